// `train:`, `cv:` and `search:` (DESIGN.md §3).
#include <algorithm>

#include "config/sections.hpp"

namespace dlrun::detail {
namespace {

const std::vector<std::string> kModes = {"auto", "min", "max"};

std::string monitor_name(Options& options, const std::string& fallback) {
  std::string monitor = options.string("monitor", fallback);
  if (monitor.empty()) options.fail("monitor", "must name a metric, e.g. val_loss");
  return monitor;
}

std::optional<EarlyStoppingConfig> parse_early_stopping(const Node* node) {
  if (node == nullptr) return std::nullopt;
  // `early_stopping: true` means the defaults, `false` none.
  if (node->is_scalar()) {
    if (!node->as_bool("train: early_stopping")) return std::nullopt;
    return EarlyStoppingConfig{};
  }
  const std::string context = "train.early_stopping";
  check_keys(*node, context,
             {"monitor", "patience", "min_delta", "mode", "restore_best", "start_from_epoch"});
  Options options(*node, context);
  EarlyStoppingConfig config;
  config.monitor = monitor_name(options, config.monitor);
  config.patience = options.integer("patience", config.patience);
  options.require_at_least("patience", static_cast<double>(config.patience), 0);
  config.min_delta = options.number("min_delta", config.min_delta);
  options.require_at_least("min_delta", config.min_delta, 0);
  config.mode = options.choice("mode", config.mode, kModes);
  config.restore_best = options.boolean("restore_best", config.restore_best);
  config.start_from_epoch = options.integer("start_from_epoch", config.start_from_epoch);
  options.require_at_least("start_from_epoch", static_cast<double>(config.start_from_epoch), 0);
  return config;
}

CheckpointConfig parse_checkpoint(const Node& node) {
  const std::string context = "train.checkpoint";
  check_keys(node, context, {"every", "every_steps", "keep", "save_best", "monitor", "mode"});
  Options options(node, context);
  CheckpointConfig config;
  config.every = options.integer("every", config.every);
  options.require_at_least("every", static_cast<double>(config.every), 0);
  config.every_steps = options.integer("every_steps", config.every_steps);
  options.require_at_least("every_steps", static_cast<double>(config.every_steps), 0);
  config.keep = options.integer("keep", config.keep);
  options.require_at_least("keep", static_cast<double>(config.keep), 1);
  config.save_best = options.boolean("save_best", config.save_best);
  config.monitor = monitor_name(options, config.monitor);
  config.mode = options.choice("mode", config.mode, kModes);
  return config;
}

}  // namespace

TrainConfig parse_train(const Node& node) {
  check_keys(node, "train",
             {"epochs", "batch_size", "shuffle", "clip_grad_norm", "clip_grad_value", "early_stopping",
              "checkpoint"});
  Options options(node, "train");
  TrainConfig config;
  config.epochs = options.integer("epochs", config.epochs);
  options.require_at_least("epochs", static_cast<double>(config.epochs), 1);
  config.batch_size = options.integer("batch_size", config.batch_size);
  options.require_at_least("batch_size", static_cast<double>(config.batch_size), 1);
  config.shuffle = options.boolean("shuffle", config.shuffle);
  config.clip_grad_norm = options.number("clip_grad_norm", config.clip_grad_norm);
  options.require_at_least("clip_grad_norm", config.clip_grad_norm, 0);
  config.clip_grad_value = options.number("clip_grad_value", config.clip_grad_value);
  options.require_at_least("clip_grad_value", config.clip_grad_value, 0);
  config.early_stopping = parse_early_stopping(options.raw("early_stopping"));
  const Node* checkpoint = options.raw("checkpoint");
  config.checkpoint = parse_checkpoint(checkpoint ? *checkpoint : empty_node());
  return config;
}

CvConfig parse_cv(const Node& node) {
  check_keys(node, "cv", {"folds", "stratified", "repeats", "shuffle"});
  Options options(node, "cv");
  CvConfig config;
  config.folds = options.integer("folds", config.folds);
  options.require_at_least("folds", static_cast<double>(config.folds), 2);
  config.stratified = options.boolean("stratified", config.stratified);
  config.repeats = options.integer("repeats", config.repeats);
  options.require_at_least("repeats", static_cast<double>(config.repeats), 1);
  config.shuffle = options.boolean("shuffle", config.shuffle);
  return config;
}

namespace {

SchedulerConfig parse_scheduler(const Node* node) {
  SchedulerConfig config;
  if (node == nullptr) return config;
  const std::vector<std::string> types = {"none", "successive_halving", "hyperband"};
  if (node->is_scalar()) {
    config.type = node->as_string("search.scheduler");
    if (std::find(types.begin(), types.end(), config.type) == types.end()) {
      throw ConfigError(node->where(), "search.scheduler: unknown scheduler '" + config.type + "'" +
                                           did_you_mean(config.type, types) +
                                           "; allowed: none, successive_halving, hyperband");
    }
    return config;
  }
  const std::string context = "search.scheduler";
  check_keys(*node, context, {"type", "min_epochs", "max_epochs", "eta"});
  Options options(*node, context);
  config.type = options.choice("type", "hyperband", types);
  config.min_epochs = options.integer("min_epochs", config.min_epochs);
  options.require_at_least("min_epochs", static_cast<double>(config.min_epochs), 1);
  config.max_epochs = options.integer("max_epochs", config.max_epochs);
  options.require_at_least("max_epochs", static_cast<double>(config.max_epochs), 0);
  if (config.max_epochs > 0 && config.max_epochs < config.min_epochs) {
    options.fail("max_epochs", "must be >= min_epochs (" + std::to_string(config.min_epochs) + "), got " +
                                   std::to_string(config.max_epochs));
  }
  config.eta = options.integer("eta", config.eta);
  options.require_at_least("eta", static_cast<double>(config.eta), 2);
  return config;
}

BayesConfig parse_bayes(const Node* node) {
  BayesConfig config;
  // Without startup_trials in the YAML, TPE chooses them from the trial budget (0 says so):
  // min(10, ceil(trials / 4)), see default_startup_trials in select/tpe.hpp.
  config.startup_trials = 0;
  if (node == nullptr) return config;
  const std::string context = "search.bayes";
  check_keys(*node, context, {"model", "startup_trials", "gamma", "candidates", "batch"});
  Options options(*node, context);
  config.model = options.choice("model", config.model, {"gp", "tpe"});
  if (node->find("startup_trials") != nullptr) {  // absent: chosen from the trial budget
    config.startup_trials = options.integer("startup_trials", config.startup_trials);
    options.require_at_least("startup_trials", static_cast<double>(config.startup_trials), 1);
  }
  config.gamma = options.number("gamma", config.gamma);
  options.require_in("gamma", config.gamma, 0.0, 1.0, true);
  if (config.gamma <= 0.0) options.fail("gamma", "must be > 0, got " + format_number(config.gamma));
  config.candidates = options.integer("candidates", config.candidates);
  options.require_at_least("candidates", static_cast<double>(config.candidates), 1);
  config.batch = options.integer("batch", config.batch);
  options.require_at_least("batch", static_cast<double>(config.batch), 1);
  return config;
}

}  // namespace

SearchConfig parse_search(const Node& node) {
  check_keys(node, "search",
             {"strategy", "trials", "metric", "mode", "evaluate", "space", "scheduler", "bayes"});
  Options options(node, "search");
  SearchConfig config;
  config.strategy = options.choice("strategy", config.strategy, {"grid", "random", "bayes"});
  config.trials = options.integer("trials", config.trials);
  options.require_at_least("trials", static_cast<double>(config.trials), 1);
  config.metric = options.string("metric", config.metric);
  if (config.metric.empty()) options.fail("metric", "must name a metric, e.g. val_accuracy");
  config.mode = options.choice("mode", config.mode, {"auto", "min", "max"});
  config.evaluate = options.choice("evaluate", config.evaluate, {"holdout", "cv"});
  // The space's paths and distributions are checked by lib/select, which knows the strategies.
  if (const Node* space = options.raw("space")) {
    if (!space->is_map()) options.fail("space", "expected a mapping from override paths to distributions");
    config.space = *space;
  }
  config.scheduler = parse_scheduler(options.raw("scheduler"));
  config.bayes = parse_bayes(options.raw("bayes"));
  return config;
}

}  // namespace dlrun::detail
