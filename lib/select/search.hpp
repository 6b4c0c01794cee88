// `dlrun search` without the command line: checks the space against the config, creates (or, with
// resume, reopens) the search directory, runs the trials with the journal, and writes trials.csv,
// best.yaml and summary.json (DESIGN.md §4; docs/search.md). Optionally refits the best
// configuration on train + validation and evaluates it on the test split.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "config/config.hpp"
#include "select/cross_validation.hpp"
#include "select/search_runner.hpp"
#include "select/search_space.hpp"

namespace dlrun {

struct SearchOptions {
  std::filesystem::path out;     // the search directory; empty: <output>/<name>-search-<time>
  std::filesystem::path resume;  // continue the search in this directory
  Index jobs = 1;                // trials trained at once
  bool refit = false;            // retrain the best on train + validation, report test
  Index outer_folds = 0;         // > 0: nested cross-validation with this many outer folds
  const std::atomic<bool>* stop_flag = nullptr;
  // Progress for the caller to show: a line of text per event (directory, trial finished, ...).
  std::function<void(const std::string&)> log;
  // Called (serialised) as each trial finishes: {"trial", "params", "status", "metric", "epochs",
  // "seconds", "error"} (plus "outer_fold" in nested cv), e.g. for --jsonl.
  std::function<void(const nlohmann::json&)> on_trial;
  // Called once the directory exists, before any trial (where the caller opens its log file).
  std::function<void(const std::filesystem::path&)> on_directory;
  // Under MPI (rank 0): trials are trained by the farm's ranks (lib/select/distributed_search);
  // jobs is then ignored. Schedulers are refused (a promoted trial continues from state kept in
  // the memory of the rank that trained it).
  TaskFarm* farm = nullptr;
  // Merged into the summary just before summary.json is written (search workers: "workers",
  // "seconds" over all of them).
  nlohmann::json summary_extra;
};

struct SearchOutcome {
  std::filesystem::path directory;
  nlohmann::json summary;  // as summary.json holds it
  int exit_code = 0;       // 0; 130 when interrupted; a failed trial's code when none completed
};

// Nested cv's outer folds (--outer-folds K) over the cv pool: stratified as `cv:` says, one
// repeat, from a seed of their own derived from config.seed.
std::vector<Fold> nested_outer_folds(const Config& config, const CvData& pool, Index outer_folds);

// Throws ConfigError for a bad space, metric or strategy/scheduler combination (before any
// directory is created), DataError for a bad journal, OutputError when files cannot be written.
SearchOutcome run_search(const Config& config, const SearchOptions& options);

// The space of config.search, checked before any directory exists: the space itself, the metric,
// the strategy/scheduler combination, --refit/--outer-folds, and every value of the space set
// alone into the config. Throws ConfigError.
SearchSpace checked_search_space(const Config& config, const SearchOptions& options);

// Throws ConfigError unless `directory`'s config.yaml holds `config` (threads aside, and
// search.trials aside when `trials_may_differ`); DataError when there is none to read.
void check_same_search_config(const Config& config, const std::filesystem::path& directory,
                              bool trials_may_differ);

}  // namespace dlrun
