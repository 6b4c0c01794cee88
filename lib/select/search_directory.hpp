// One search in one folder: the journal (new or resumed), the trials through the search loop with
// a TrainingEvaluator, trials.csv rewritten as trials finish, best.yaml. `dlrun search` runs one in
// the search directory, nested cv one per outer fold (lib/select/search.cpp).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "select/search.hpp"
#include "select/training_evaluator.hpp"

namespace dlrun {

inline constexpr std::string_view kJournalFile = "journal.jsonl";

struct OneSearch {
  SearchRun run;
  std::optional<std::size_t> best;  // index in run.trials
  nlohmann::json summary;           // trials, completed, failed, (scheduler, stopped), total_epochs, best
};

// Runs `strategy`'s trials of `config` in `directory` (an existing folder). resume: continue the
// journal there (finished trials are replayed, not trained). Progress goes to options.log (each
// line prefixed with `log_prefix`) and options.on_trial. Throws ConfigError when the journal holds
// other points than the strategy proposes, DataError for a bad journal, OutputError.
OneSearch search_in_directory(const Config& config, const SearchSpace& space, Strategy& strategy,
                              const std::filesystem::path& directory, bool resume,
                              const EvaluatorSettings& settings, const SearchOptions& options,
                              const std::string& log_prefix);

// The journal's first line for a search of `config` over `space` (Journal::header adds "event").
nlohmann::json search_journal_header(const Config& config, const SearchSpace& space);

// "trial 3 optimizer.lr=0.01 ...: val_accuracy=0.97 after 20 epochs" (or the failure), for logs.
std::string describe_trial(const SearchSpace& space, const TrialRecord& record, const std::string& metric);

}  // namespace dlrun
