#include "select/search_directory.hpp"

#include <cmath>

#include "config/emit.hpp"
#include "core/options.hpp"
#include "io/files.hpp"
#include "select/distributed_search.hpp"
#include "select/journal.hpp"
#include "select/search_outputs.hpp"
#include "train/early_stopping.hpp"

namespace dlrun {

namespace fs = std::filesystem;

std::string describe_trial(const SearchSpace& space, const TrialRecord& record, const std::string& metric) {
  std::string text = "trial " + std::to_string(record.trial);
  for (std::size_t d = 0; d < space.dimensions.size(); ++d) {
    text += " " + space.dimensions[d].path + "=" + value_text(space.dimensions[d], record.point[d]);
  }
  if (record.outcome.status == "completed") {
    text += ": " + metric + "=" + format_number(record.outcome.metric);
  } else {
    text += ": " + record.outcome.status +
            (record.outcome.error.empty() ? "" : " (" + record.outcome.error + ")");
  }
  text += " after " + std::to_string(record.outcome.epochs) + " epochs";
  return text;
}

nlohmann::json search_journal_header(const Config& config, const SearchSpace& space) {
  return {{"strategy", config.search.strategy},
          {"seed", config.seed},
          {"metric", config.search.metric},
          {"space", space.paths()}};
}

OneSearch search_in_directory(const Config& config, const SearchSpace& space, Strategy& strategy,
                              const fs::path& directory, bool resume, const EvaluatorSettings& settings,
                              const SearchOptions& options, const std::string& log_prefix) {
  const SearchConfig& search = config.search;
  const bool maximize = search.mode == "auto" ? metric_is_maximized(search.metric) : search.mode == "max";
  auto log = [&](const std::string& line) {
    if (options.log) options.log(log_prefix + line);
  };
  std::optional<JournalContents> journaled;
  if (resume) journaled = read_journal(directory / kJournalFile);
  Journal journal(directory / kJournalFile);
  if (!journaled) {
    journal.header(search_journal_header(config, space));
  }
  log("search " + directory.string() + ": " + search.strategy + ", " +
      std::to_string(strategy.trial_count()) + " trials, " + search.metric + " (" +
      (maximize ? "max" : "min") + "), " + search.evaluate +
      (search.scheduler.type != "none" ? ", " + search.scheduler.type : "") + ", " +
      std::to_string(options.jobs) + " job(s)");

  TrainingEvaluator evaluator(space, config, settings);
  std::vector<TrialRecord> finished_so_far(static_cast<std::size_t>(strategy.trial_count()));
  SearchHooks hooks;
  hooks.stop_flag = options.stop_flag;
  hooks.recorded = [&](Index trial, Index budget, const Point& point) -> std::optional<TrialOutcome> {
    if (!journaled) return std::nullopt;
    const auto found = journaled->finished.find({trial, budget});
    if (found == journaled->finished.end()) return std::nullopt;
    if (found->second.point != point) {
      throw ConfigError(config.file.string() + ": trial " + std::to_string(trial) + " of the journal in " +
                        directory.string() + " was another point; the search's seed or space changed");
    }
    return found->second.outcome;
  };
  hooks.on_start = [&](Index trial, Index budget, const Point& point) {
    journal.started(trial, budget, point, params_json(space, point));
  };
  hooks.on_finish = [&](const TrialRecord& record) {
    if (!record.replayed) journal.finished(record, params_json(space, record.point));
    finished_so_far[static_cast<std::size_t>(record.trial - 1)] = record;
    write_text_atomic(directory / "trials.csv", trials_csv(space, search.metric, finished_so_far));
    log((record.replayed ? "(journal) " : "") + describe_trial(space, record, search.metric));
    if (options.on_trial) {
      const double metric = record.outcome.metric;
      nlohmann::json line = {
          {"trial", record.trial},
          {"params", params_json(space, record.point)},
          {"status", record.status},
          {"metric", std::isfinite(metric) ? nlohmann::json(metric) : nlohmann::json(nullptr)},
          {"epochs", record.outcome.epochs},
          {"seconds", record.seconds},
          {"error", record.outcome.error}};
      if (!log_prefix.empty()) line["outer_fold"] = directory.filename().string();
      options.on_trial(line);
    }
  };
  SearchPlan plan;
  plan.strategy = &strategy;
  plan.scheduler = search.scheduler;
  plan.max_epochs = config.train.epochs;
  plan.maximize = maximize;
  plan.jobs = options.jobs;
  plan.farm = options.farm;
  if (plan.farm) plan.farm_context = evaluator_settings_json(settings);
  OneSearch result;
  result.run = run_search_loop(plan, evaluator, hooks);
  const SearchRun& run = result.run;
  write_text_atomic(directory / "trials.csv", trials_csv(space, search.metric, run.trials));

  Index completed = 0, failed = 0, stopped = 0;
  for (const TrialRecord& record : run.trials) {
    completed += record.status == "completed";
    failed += record.status == "failed";
    stopped += record.status == "stopped";
  }
  nlohmann::json& summary = result.summary;
  summary = {{"trials", strategy.trial_count()}, {"completed", completed}, {"failed", failed}};
  if (search.scheduler.type != "none") {
    summary["scheduler"] = search.scheduler.type;
    summary["stopped"] = stopped;
  }
  summary["total_epochs"] = run.total_epochs;
  result.best = best_trial(run.trials, maximize);
  if (result.best) {
    const TrialRecord& record = run.trials[*result.best];
    summary["best"] = {{"trial", record.trial},
                       {"metric", record.outcome.metric},
                       {"epochs", record.outcome.epochs},
                       {"best_epoch", record.outcome.best_epoch},
                       {"params", params_json(space, record.point)}};
    const Config best_config = config_for_point(space, record.point, config.tree, config.file);
    write_text_atomic(directory / "best.yaml", to_yaml(best_config.tree));
    log("best: " + describe_trial(space, record, search.metric));
  } else {
    summary["best"] = nullptr;
  }
  return result;
}

}  // namespace dlrun
