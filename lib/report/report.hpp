// `dlrun report`: one self-contained report.html for a run, cv or search directory, built from the
// files the directory holds (metrics.csv, summary.json, folds.csv, trials.csv) and, for a training
// run, the evaluation of its best checkpoint.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "report/checkpoint_evaluation.hpp"

namespace dlrun::report {

enum class DirectoryKind { run, cv, search };

// From summary.json's "command" when present, else from the files (trials.csv: search, folds.csv:
// cv, metrics.csv: run). DataError when the folder is missing or holds none of them.
DirectoryKind directory_kind(const std::filesystem::path& directory);

struct Report {
  std::string html;
  std::vector<std::string> chart_ids;  // the chart containers, as the HTML names them
};

// The report of `directory`. For a run, `evaluation` (of its best checkpoint) adds the confusion
// matrix and per-class scores; pass nullopt to leave that section out. Throws DataError for
// malformed files.
Report build_report(const std::filesystem::path& directory,
                    const std::optional<CheckpointEvaluation>& evaluation);

// Writes <directory>/report.html atomically and returns its path (OutputError when it cannot).
std::filesystem::path write_report(const std::filesystem::path& directory, const Report& report);

}  // namespace dlrun::report
