#include "select/search.hpp"

#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>

#include "config/emit.hpp"
#include "config/overrides.hpp"
#include "config/parse_config.hpp"
#include "config/yaml_loader.hpp"
#include "core/options.hpp"
#include "io/files.hpp"
#include "select/journal.hpp"
#include "select/search_outputs.hpp"
#include "select/training_evaluator.hpp"
#include "train/early_stopping.hpp"

namespace dlrun {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kJournalFile = "journal.jsonl";

Location where_of(const Node& tree, std::string_view path) {
  const Node* node = find_path(tree, path);
  return node ? node->where() : Location{};
}

// The metric must be one the runs report: loss or a configured metric, on the validation split.
void check_metric(const Config& config, bool has_validation) {
  const SearchConfig& search = config.search;
  std::vector<std::string> known = {"val_loss"};
  for (const std::string& metric : config.metrics) known.push_back("val_" + metric);
  if (std::find(known.begin(), known.end(), search.metric) == known.end()) {
    std::string allowed;
    for (const std::string& name : known) allowed += (allowed.empty() ? "" : ", ") + name;
    throw ConfigError(where_of(config.tree, "search.metric"),
                      "search.metric: '" + search.metric + "' is not reported by the trials" +
                          did_you_mean(search.metric, known) + "; allowed: " + allowed);
  }
  if (search.evaluate == "holdout" && !has_validation) {
    throw ConfigError(where_of(config.tree, "search.evaluate"),
                      "search.evaluate: holdout scores trials on the validation split, but the config has "
                      "none; add data.validation (e.g. {split: 0.2}) or use evaluate: cv");
  }
}

void check_combination(const Config& config) {
  const SearchConfig& search = config.search;
  if (search.scheduler.type != "none" && search.strategy == "bayes") {
    throw ConfigError(where_of(config.tree, "search.scheduler"),
                      "search.scheduler: a scheduler works with strategy random or grid; bayes with a "
                      "scheduler (BOHB) is not implemented");
  }
}

// The resolved tree without search.trials (a resumed search may raise it) and threads (--threads).
std::string comparable_config(Node tree) {
  if (Node* search = tree.find("search")) search->erase("trials");
  tree.erase("threads");
  return to_yaml(tree);
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw DataError(path.string() + ": cannot read (is this a search directory?)");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string describe(const SearchSpace& space, const TrialRecord& record, const std::string& metric) {
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

// Retrains `config` (the best point) on train + validation for the epochs its trial found best,
// in <search dir>/refit, and returns the refit's summary (test metrics included).
nlohmann::json refit_best(const Config& best, Index epochs, const fs::path& directory,
                          const std::atomic<bool>* stop_flag) {
  Node tree = best.tree;
  if (Node* data = tree.find("data")) data->erase("validation");
  if (Node* train = tree.find("train")) {
    train->erase("early_stopping");
    if (epochs > 0) train->set("epochs", Node::scalar(std::to_string(epochs)));
    // Checkpoints monitor the training loss now: there is no validation split.
    if (Node* checkpoint = train->find("checkpoint")) checkpoint->erase("monitor");
  }
  auto experiment = prepare_experiment(config_from_tree(std::move(tree), best.file));
  RunOptions options;
  options.out = directory / "refit";
  options.stop_flag = stop_flag;
  const RunResult result = run_training(*experiment, options);
  return result.summary;
}

}  // namespace

SearchOutcome run_search(const Config& config, const SearchOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  const SearchConfig& search = config.search;
  if (search.space.is_null()) {
    throw ConfigError(config.file.string() +
                      ": search.space is required: a mapping of override paths to "
                      "distributions (see docs/search.md)");
  }
  const SearchSpace space = parse_search_space(search.space);
  check_combination(config);
  {
    // The base config must build, and every value of the space must fit it.
    auto base = prepare_experiment(config);
    check_metric(config, !base->data.validation.empty());
  }
  check_space_applies(space, config.tree, config.file);
  const bool maximize = search.mode == "auto" ? metric_is_maximized(search.metric) : search.mode == "max";
  const auto strategy = make_strategy(search, space, config.seed);

  // The directory: a new one, or the one being resumed (same config, same space).
  SearchOutcome outcome;
  std::optional<JournalContents> journaled;
  const std::string config_yaml = to_yaml(config.tree);
  if (!options.resume.empty()) {
    outcome.directory = options.resume;
    if (!fs::is_directory(outcome.directory)) {
      throw DataError(outcome.directory.string() + ": no such search directory");
    }
    const std::string saved = read_text(outcome.directory / "config.yaml");
    const Node saved_tree = parse_yaml(saved, (outcome.directory / "config.yaml").string());
    if (comparable_config(saved_tree) != comparable_config(config.tree)) {
      throw ConfigError(config.file.string() + ": differs from the config of the search in " +
                        outcome.directory.string() + " (only search.trials may change on resume)");
    }
    journaled = read_journal(outcome.directory / kJournalFile);
    remove_stale_temporaries(outcome.directory);
    mark_incomplete(outcome.directory);
  } else {
    outcome.directory = make_run_directory(config.output, config.name + "-search",
                                           options.out.empty() ? std::nullopt : std::optional(options.out));
    fs::remove(outcome.directory / kCheckpointsFolder);  // trials write no checkpoints
  }
  const fs::path& directory = outcome.directory;
  if (options.on_directory) options.on_directory(directory);
  write_text_atomic(directory / "config.yaml", config_yaml);
  Journal journal(directory / kJournalFile);
  if (!journaled) {
    journal.header({{"strategy", search.strategy},
                    {"seed", config.seed},
                    {"metric", search.metric},
                    {"space", space.paths()}});
  }
  auto log = [&](const std::string& line) {
    if (options.log) options.log(line);
  };
  log("search " + directory.string() + ": " + search.strategy + ", " +
      std::to_string(strategy->trial_count()) + " trials, " + search.metric + " (" +
      (maximize ? "max" : "min") + "), " + search.evaluate +
      (search.scheduler.type != "none" ? ", " + search.scheduler.type : "") + ", " +
      std::to_string(options.jobs) + " job(s)");

  TrainingEvaluator evaluator(space, config.tree, config.file, search.metric, search.scheduler.type != "none",
                              options.stop_flag);
  std::vector<TrialRecord> finished_so_far(static_cast<std::size_t>(strategy->trial_count()));
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
    log((record.replayed ? "(journal) " : "") + describe(space, record, search.metric));
  };
  const SearchPlan plan{strategy.get(), search.scheduler, config.train.epochs, maximize, options.jobs};
  const SearchRun run = run_search_loop(plan, evaluator, hooks);
  write_text_atomic(directory / "trials.csv", trials_csv(space, search.metric, run.trials));

  nlohmann::json& summary = outcome.summary;
  Index completed = 0, failed = 0, stopped = 0;
  for (const TrialRecord& record : run.trials) {
    completed += record.status == "completed";
    failed += record.status == "failed";
    stopped += record.status == "stopped";
  }
  summary = {{"command", "search"},
             {"search_dir", directory.string()},
             {"strategy", search.strategy},
             {"metric", search.metric},
             {"mode", maximize ? "max" : "min"},
             {"evaluate", search.evaluate},
             {"trials", strategy->trial_count()},
             {"completed", completed},
             {"failed", failed}};
  if (search.scheduler.type != "none") {
    summary["scheduler"] = search.scheduler.type;
    summary["stopped"] = stopped;
  }
  summary["total_epochs"] = run.total_epochs;
  const auto best = best_trial(run.trials, maximize);
  std::string status = run.interrupted ? "interrupted" : "completed";
  if (best) {
    const TrialRecord& record = run.trials[*best];
    summary["best"] = {{"trial", record.trial},
                       {"metric", record.outcome.metric},
                       {"epochs", record.outcome.epochs},
                       {"best_epoch", record.outcome.best_epoch},
                       {"params", params_json(space, record.point)}};
    const Config best_config = config_for_point(space, record.point, config.tree, config.file);
    write_text_atomic(directory / "best.yaml", to_yaml(best_config.tree));
    log("best: " + describe(space, record, search.metric));
    if (options.refit && !run.interrupted) {
      log("refit: the best configuration on train + validation, in " + (directory / "refit").string());
      summary["refit"] = refit_best(best_config, record.outcome.best_epoch, directory, options.stop_flag);
    }
  } else {
    summary["best"] = nullptr;
    if (!run.interrupted) {
      status = "failed";
      summary["error"] = "no trial completed";
      outcome.exit_code = 1;
      for (const TrialRecord& record : run.trials) {
        if (record.status == "failed" && record.outcome.exit_code != 0) {
          outcome.exit_code = record.outcome.exit_code;
          break;
        }
      }
    }
  }
  if (run.interrupted) outcome.exit_code = 130;
  summary["status"] = status;
  summary["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  write_run_summary(directory, summary.dump(2) + "\n");
  return outcome;
}

}  // namespace dlrun
