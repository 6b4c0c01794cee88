// The figures `dlrun prune` and `dlrun quantize` report for a model before and after: metrics on
// a split, inference throughput on it, and the size of its file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "data/load.hpp"
#include "train/evaluate.hpp"

namespace dlrun {

// The split compression reports on: test, else validation, else train.
struct ReportSplit {
  std::string name;
  const DataView* view = nullptr;
};
ReportSplit report_split(const LoadedData& data);

struct ModelFigures {
  MetricValues metrics;  // loss first, then the config's metrics
  double seconds = 0.0;  // the whole evaluation (forward passes, loss, metrics)
  double examples_per_second = 0.0;
  std::uintmax_t file_bytes = 0;  // the checkpoint's size on disk; 0 when none
};

// Runs `evaluate` once, timing it; `examples` is the split's size.
ModelFigures measure(const std::function<Evaluation()>& evaluate, Index examples,
                     const std::filesystem::path& file);

// {"file": ..., "bytes": ..., "seconds": ..., "examples_per_second": ..., "<metric>": ...}
nlohmann::json figures_json(const ModelFigures& figures, const std::filesystem::path& file);

// After against before: {"size_ratio": bytes after / before (when both have a file), "speedup":
// examples/s after / before, "<metric>_change": after - before}.
nlohmann::json comparison_json(const ModelFigures& before, const ModelFigures& after);

}  // namespace dlrun
