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
#include "select/cross_validation.hpp"
#include "select/journal.hpp"
#include "select/search_directory.hpp"
#include "select/search_outputs.hpp"
#include "select/training_evaluator.hpp"
#include "train/early_stopping.hpp"

namespace dlrun {
namespace {

namespace fs = std::filesystem;

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

void check_combination(const Config& config, const SearchOptions& options) {
  const SearchConfig& search = config.search;
  if (options.farm && search.scheduler.type != "none") {
    throw ConfigError(where_of(config.tree, "search.scheduler"),
                      "search.scheduler: under mpirun, a scheduler's promoted trials would have to continue "
                      "on the rank that trained them, which is not implemented; run it in one process");
  }
}

// The resolved tree without threads (--threads) and, when a resumed search may raise it,
// search.trials.
std::string comparable_config(Node tree, bool without_trials) {
  if (Node* search = tree.find("search"); search && without_trials) search->erase("trials");
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

// Retrains `best` on train + validation for the epochs its trial found best (early stopping off),
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

// The exit code of a search where no trial completed: the first failed trial's.
int failure_code(const SearchRun& run) {
  for (const TrialRecord& record : run.trials) {
    if (record.status == "failed" && record.outcome.exit_code != 0) return record.outcome.exit_code;
  }
  return 1;
}

double mean_of(const std::vector<double>& values) {
  double sum = 0.0;
  for (const double value : values) sum += value;
  return values.empty() ? 0.0 : sum / static_cast<double>(values.size());
}

double sample_stddev(const std::vector<double>& values) {
  if (values.size() < 2) return 0.0;
  const double mean = mean_of(values);
  double squares = 0.0;
  for (const double value : values) squares += (value - mean) * (value - mean);
  return std::sqrt(squares / static_cast<double>(values.size() - 1));
}

}  // namespace

std::vector<Fold> nested_outer_folds(const Config& config, const CvData& pool, Index outer_folds) {
  CvConfig outer_cv = config.cv;
  outer_cv.folds = outer_folds;
  outer_cv.repeats = 1;
  const std::uint64_t outer_seed = Rng::for_stream(config.seed, "outer_folds").next_u64();
  return make_folds(*pool.dataset, pool.rows, outer_cv, outer_seed);
}

SearchSpace checked_search_space(const Config& config, const SearchOptions& options) {
  const SearchConfig& search = config.search;
  if (search.space.is_null()) {
    throw ConfigError(config.file.string() +
                      ": search.space is required: a mapping of override paths to "
                      "distributions (see docs/search.md)");
  }
  SearchSpace space = parse_search_space(search.space);
  check_combination(config, options);
  if (options.outer_folds > 0 && options.refit) {
    throw ConfigError(
        "--refit and --outer-folds exclude each other: nested cv already trains each outer "
        "fold's best on its training rows");
  }
  if (options.outer_folds > 0 && search.evaluate != "cv") {
    throw ConfigError(
        where_of(config.tree, "search.evaluate"),
        "--outer-folds: nested cross-validation needs search.evaluate: cv (the inner cv selects)");
  }
  {
    // The base config must build, and every value of the space must fit it.
    auto base = prepare_experiment(config);
    check_metric(config, !base->data.validation.empty());
    check_space_applies(space, config.tree, config.file, &base->data);
  }
  return space;
}

void check_same_search_config(const Config& config, const fs::path& directory, bool trials_may_differ) {
  const std::string saved = read_text(directory / "config.yaml");
  const Node saved_tree = parse_yaml(saved, (directory / "config.yaml").string());
  if (comparable_config(saved_tree, trials_may_differ) != comparable_config(config.tree, trials_may_differ)) {
    throw ConfigError(
        config.file.string() + ": differs from the config of the search in " + directory.string() +
        (trials_may_differ ? " (only search.trials may change on resume)"
                           : " (every worker must run the same config; only --threads may differ)"));
  }
}

SearchOutcome run_search(const Config& config, const SearchOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  const SearchConfig& search = config.search;
  const bool resume = !options.resume.empty();
  const std::optional<fs::path> out = options.out.empty() ? std::nullopt : std::optional(options.out);
  // Before the data is loaded (checked_search_space builds the base experiment): a search that
  // could not write its directory fails now.
  if (resume && !fs::is_directory(options.resume)) {
    throw DataError(options.resume.string() + ": no such search directory");
  }
  if (resume) check_run_directory_to_continue(options.resume);
  if (!resume) check_new_run_directory(config.output, out);
  const SearchSpace space = checked_search_space(config, options);
  const auto strategy = make_strategy(search, space, config.seed);

  // The directory: a new one, or the one being resumed (same config, same space); locked until
  // the search ends, so that two searches never write one directory.
  SearchOutcome outcome;
  RunDirectory claimed;
  if (resume) {
    claimed.lock = RunLock(options.resume);
    outcome.directory = options.resume;
    check_same_search_config(config, outcome.directory, true);
    remove_stale_temporaries(outcome.directory);
    mark_incomplete(outcome.directory);
  } else {
    claimed = make_run_directory(config.output, config.name + "-search", out);
    outcome.directory = claimed.path;
    fs::remove(outcome.directory / kCheckpointsFolder);  // trials write no checkpoints
  }
  const fs::path& directory = outcome.directory;
  if (options.on_directory) options.on_directory(directory);
  write_text_atomic(directory / "config.yaml", to_yaml(config.tree));

  EvaluatorSettings settings;
  settings.metric = search.metric;
  settings.cv = search.evaluate == "cv";
  settings.keep_state = search.scheduler.type != "none";
  settings.stop_flag = options.stop_flag;
  const bool maximize = search.mode == "auto" ? metric_is_maximized(search.metric) : search.mode == "max";
  nlohmann::json& summary = outcome.summary;
  summary = {{"command", "search"},     {"search_dir", directory.string()}, {"strategy", search.strategy},
             {"metric", search.metric}, {"mode", maximize ? "max" : "min"}, {"evaluate", search.evaluate}};
  std::string status = "completed";
  bool interrupted = false;

  if (options.outer_folds == 0) {
    const OneSearch one =
        search_in_directory(config, space, *strategy, directory, resume, settings, options, "");
    summary.update(one.summary);
    interrupted = one.run.interrupted;
    if (one.best && options.refit && !interrupted) {
      const TrialRecord& record = one.run.trials[*one.best];
      if (options.log)
        options.log("refit: the best on train + validation, in " + (directory / "refit").string());
      const Config best = config_for_point(space, record.point, config.tree, config.file);
      summary["refit"] = refit_best(best, record.outcome.best_epoch, directory, options.stop_flag);
    }
    if (!one.best && !interrupted) {
      status = "failed";
      summary["error"] = "no trial completed";
      outcome.exit_code = failure_code(one.run);
    }
  } else {
    // Nested cross-validation: outer folds (their own seed) around the whole search. Each outer
    // fold's search sees only its training rows (inner cv); its best point is then trained on
    // those rows (an inner validation split as the config says) and scored on the held-out rows.
    const CvData pool = load_cv_data(config);
    const std::vector<Fold> outer = nested_outer_folds(config, pool, options.outer_folds);
    nlohmann::json folds = nlohmann::json::array();
    std::vector<double> scores;
    const std::string name = scored_metric_name(search.metric);
    for (const Fold& fold : outer) {
      const std::string label = "outer-" + std::to_string(fold.fold + 1);
      const fs::path sub = directory / label;
      const bool resume_fold = resume && fs::exists(sub / kJournalFile);
      if (!resume_fold) fs::create_directories(sub);
      EvaluatorSettings inner = settings;
      inner.cv_rows = fold.train;
      const OneSearch one =
          search_in_directory(config, space, *strategy, sub, resume_fold, inner, options, "[" + label + "] ");
      interrupted = one.run.interrupted;
      if (interrupted) break;
      nlohmann::json entry = {{"fold", fold.fold + 1}, {"inner", one.summary}};
      if (one.best) {
        const TrialRecord& record = one.run.trials[*one.best];
        const Config best = config_for_point(space, record.point, config.tree, config.file);
        const FoldResult scored = run_fold(best, pool, fold, options.stop_flag);
        const double score = metric_value(scored.run.test, name);
        entry["params"] = params_json(space, record.point);
        entry["metric"] = std::isfinite(score) ? nlohmann::json(score) : nlohmann::json(nullptr);
        if (std::isfinite(score)) scores.push_back(score);
        if (options.log) {
          options.log("[" + label + "] best refit on the outer training rows: " + search.metric +
                      " on the held-out rows = " + format_number(score));
        }
      } else {
        entry["params"] = nullptr;
        entry["metric"] = nullptr;
      }
      folds.push_back(entry);
    }
    summary["outer_folds"] = options.outer_folds;
    summary["nested"] = {{"folds", folds}, {"mean", mean_of(scores)}, {"std", sample_stddev(scores)}};
    if (options.log && !scores.empty()) {
      options.log("nested cv: " + search.metric + " " + format_number(mean_of(scores)) + " ± " +
                  format_number(sample_stddev(scores)) + " over " + std::to_string(scores.size()) +
                  " outer folds");
    }
    if (scores.empty() && !interrupted) {
      status = "failed";
      summary["error"] = "no outer fold produced a score";
      outcome.exit_code = 1;
    }
  }
  if (interrupted) {
    status = "interrupted";
    outcome.exit_code = 130;
  }
  summary["status"] = status;
  summary["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (options.summary_extra.is_object()) summary.update(options.summary_extra);
  write_run_summary(directory, summary.dump(2) + "\n");
  return outcome;
}

}  // namespace dlrun
