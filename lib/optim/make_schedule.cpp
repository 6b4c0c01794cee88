// The schedule table: one line per type, each factory reading and validating its own options, plus
// the warm-up options every type shares (warmup.hpp).
#include <cmath>
#include <string>
#include <utility>

#include "optim/optimizer.hpp"
#include "optim/reduce_on_plateau.hpp"
#include "optim/schedules.hpp"
#include "optim/warmup.hpp"

namespace dlrun {
namespace {

// What a main schedule's factory knows: its epochs are those after the warm-up.
struct MainContext {
  double base_learning_rate = 0.0;
  Index epochs = 0;        // train.epochs - warmup_epochs
  Index total_epochs = 0;  // train.epochs
  Index steps_per_epoch = 0;
  Location type_where;
};

using ScheduleFactory = std::unique_ptr<Schedule> (*)(Options&, const MainContext&);

double positive(Options& options, std::string_view key, double fallback) {
  const double value = options.number(key, fallback);
  options.require_positive(key, value);
  return value;
}

double required_positive(Options& options, std::string_view key) {
  const double value = options.required_number(key);
  options.require_positive(key, value);
  return value;
}

std::unique_ptr<Schedule> make_constant(Options&, const MainContext& context) {
  return std::make_unique<ConstantSchedule>(context.base_learning_rate);
}

std::unique_ptr<Schedule> make_step(Options& options, const MainContext& context) {
  const Index step_size = options.required_integer("step_size");
  options.require_at_least("step_size", static_cast<double>(step_size), 1);
  return std::make_unique<StepSchedule>(context.base_learning_rate, step_size,
                                        positive(options, "gamma", 0.1));
}

std::unique_ptr<Schedule> make_multistep(Options& options, const MainContext& context) {
  if (!options.has("milestones")) options.fail("milestones", "is required (a list of epochs)");
  std::vector<Index> milestones;
  for (const double milestone : options.numbers("milestones", {})) {
    if (milestone < 0 || milestone != std::floor(milestone)) {
      options.fail("milestones",
                   "each milestone must be an epoch number >= 0, got " + format_number(milestone));
    }
    milestones.push_back(static_cast<Index>(milestone));
  }
  const double gamma = positive(options, "gamma", 0.1);
  return std::make_unique<MultiStepSchedule>(context.base_learning_rate, std::move(milestones), gamma);
}

std::unique_ptr<Schedule> make_exponential(Options& options, const MainContext& context) {
  return std::make_unique<ExponentialSchedule>(context.base_learning_rate,
                                               required_positive(options, "gamma"));
}

std::unique_ptr<Schedule> make_cosine(Options& options, const MainContext& context) {
  const bool given = options.has("T_max");
  const Index t_max = options.integer("T_max", context.epochs);
  if (t_max < 1) {
    options.fail("T_max", given ? "must be >= 1, got " + std::to_string(t_max)
                                : "defaults to train.epochs - warmup_epochs = " + std::to_string(t_max) +
                                      "; give T_max >= 1");
  }
  const double eta_min = options.number("eta_min", 0.0);
  options.require_at_least("eta_min", eta_min, 0.0);
  return std::make_unique<CosineSchedule>(context.base_learning_rate, t_max, eta_min);
}

std::unique_ptr<Schedule> make_one_cycle(Options& options, const MainContext& context) {
  OneCycleSpec spec;
  spec.max_lr = positive(options, "max_lr", context.base_learning_rate);
  spec.pct_start = options.number("pct_start", spec.pct_start);
  if (!(spec.pct_start > 0.0 && spec.pct_start < 1.0)) {
    options.fail("pct_start", "must be in (0, 1), got " + format_number(spec.pct_start));
  }
  spec.linear = options.choice("anneal_strategy", "cos", {"cos", "linear"}) == "linear";
  spec.div_factor = positive(options, "div_factor", spec.div_factor);
  spec.final_div_factor = positive(options, "final_div_factor", spec.final_div_factor);
  spec.three_phase = options.boolean("three_phase", spec.three_phase);
  spec.steps_per_epoch = context.steps_per_epoch;
  spec.total_steps = context.total_epochs * context.steps_per_epoch;
  if (spec.total_steps < 1) {
    throw ConfigError(context.type_where,
                      "schedule: one_cycle needs train.epochs >= 1 and at least one step per epoch");
  }
  double start = 0.0;
  for (const double end : OneCycleSchedule::phase_ends(spec)) {
    if (end == start) {
      options.fail("pct_start", "leaves a phase of zero steps for " + std::to_string(spec.total_steps) +
                                    " total steps; choose another pct_start");
    }
    start = end;
  }
  return std::make_unique<OneCycleSchedule>(spec);
}

// Mode auto: the metrics where higher is better (the same rule as early stopping's).
bool higher_is_better(std::string_view metric) {
  if (metric.starts_with("val_")) metric.remove_prefix(4);
  return metric.find("acc") != std::string_view::npos || metric == "precision" || metric == "recall" ||
         metric == "f1" || metric == "r2";
}

std::unique_ptr<Schedule> make_reduce_on_plateau(Options& options, const MainContext& context) {
  ReduceOnPlateauSpec spec;
  spec.monitor = options.string("monitor", spec.monitor);
  spec.monitor_where = options.where("monitor");
  const std::string mode = options.choice("mode", "auto", {"auto", "min", "max"});
  spec.maximize = mode == "max" || (mode == "auto" && higher_is_better(spec.monitor));
  spec.factor = options.number("factor", spec.factor);
  if (!(spec.factor > 0.0 && spec.factor < 1.0)) {
    options.fail("factor", "must be in (0, 1), got " + format_number(spec.factor));
  }
  spec.patience = options.integer_at_least("patience", spec.patience, 0);
  spec.threshold = options.number_at_least("threshold", spec.threshold, 0.0);
  spec.relative = options.choice("threshold_mode", "rel", {"rel", "abs"}) == "rel";
  spec.cooldown = options.integer_at_least("cooldown", spec.cooldown, 0);
  spec.min_lr = options.number_at_least("min_lr", spec.min_lr, 0.0);
  spec.eps = options.number_at_least("eps", spec.eps, 0.0);
  return std::make_unique<ReduceOnPlateauSchedule>(context.base_learning_rate, std::move(spec));
}

const std::vector<std::pair<std::string, ScheduleFactory>>& schedule_table() {
  static const std::vector<std::pair<std::string, ScheduleFactory>> table = {
      {"constant", make_constant},
      {"step", make_step},
      {"multistep", make_multistep},
      {"exponential", make_exponential},
      {"cosine", make_cosine},
      {"one_cycle", make_one_cycle},
      {"reduce_on_plateau", make_reduce_on_plateau},
  };
  return table;
}

}  // namespace

std::vector<std::string> schedule_types() {
  std::vector<std::string> types;
  for (const auto& [name, factory] : schedule_table()) types.push_back(name);
  return types;
}

std::unique_ptr<Schedule> make_schedule(const std::string& type, const Location& type_where, Options& options,
                                        const ScheduleContext& context) {
  ScheduleFactory factory = nullptr;
  for (const auto& [name, candidate] : schedule_table()) {
    if (name == type) factory = candidate;
  }
  if (factory == nullptr) {
    const std::vector<std::string> types = schedule_types();
    std::string list;
    for (const auto& name : types) list += (list.empty() ? "" : ", ") + name;
    throw ConfigError(
        type_where, "unknown schedule type '" + type + "'" + did_you_mean(type, types) + "; known: " + list);
  }

  WarmupSpec warmup;
  warmup.epochs = options.integer_at_least("warmup_epochs", 0, 0);
  warmup.steps = options.integer_at_least("warmup_steps", 0, 0);
  warmup.steps_per_epoch = context.steps_per_epoch;
  const bool has_warmup = warmup.epochs > 0 || warmup.steps > 0;
  if (warmup.epochs > 0 && warmup.steps > 0)
    options.fail("warmup_steps", "give warmup_epochs or warmup_steps, not both");
  if (has_warmup && type == "one_cycle") {
    options.fail(warmup.epochs > 0 ? "warmup_epochs" : "warmup_steps",
                 "one_cycle has its own warm-up phase (pct_start); remove the warm-up");
  }
  if (warmup.steps > 0 && context.steps_per_epoch < 1) {
    options.fail("warmup_steps", "needs the number of steps per epoch, which is not known here");
  }
  if (has_warmup) {
    const auto length = static_cast<double>(warmup.epochs + warmup.steps);
    warmup.start_factor =
        options.number_in("warmup_start_factor", 1.0 / (length + 1.0), 0.0, 1.0, /*high_open=*/false);
    if (warmup.start_factor == 0.0) options.fail("warmup_start_factor", "must be > 0, got 0");
  } else if (options.has("warmup_start_factor")) {
    options.fail("warmup_start_factor", "needs warmup_epochs or warmup_steps");
  }

  const MainContext main_context{context.base_learning_rate, context.epochs - warmup.epochs, context.epochs,
                                 context.steps_per_epoch, type_where};
  std::unique_ptr<Schedule> main = factory(options, main_context);
  if (!has_warmup) return main;
  return std::make_unique<WarmupSchedule>(std::move(main), context.base_learning_rate, warmup);
}

void check_schedule_compatible(const Optimizer& optimizer, const Schedule& schedule, const Location& where) {
  if (optimizer.needs_closure() && !schedule.is_constant()) {
    throw ConfigError(where, std::string(optimizer.type()) + " cannot take a schedule ('" +
                                 std::string(schedule.type()) +
                                 "'): its step lengths come from its own iterations (lr scales them); remove "
                                 "`schedule:` or use type: constant without warm-up");
  }
}

}  // namespace dlrun
