#include "compress/measure.hpp"

#include <chrono>
#include <cmath>

#include "core/errors.hpp"
#include "train/run_training.hpp"

namespace dlrun {

ReportSplit report_split(const LoadedData& data) {
  if (!data.test.empty()) return {"test", &data.test};
  if (!data.validation.empty()) return {"validation", &data.validation};
  return {"train", &data.train};
}

ModelFigures measure(const std::function<Evaluation()>& evaluate, Index examples,
                     const std::filesystem::path& file) {
  ModelFigures figures;
  const auto start = std::chrono::steady_clock::now();
  figures.metrics = evaluate().values;
  figures.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  figures.examples_per_second = figures.seconds > 0 ? static_cast<double>(examples) / figures.seconds : 0.0;
  std::error_code error;
  if (!file.empty()) {
    const std::uintmax_t bytes = std::filesystem::file_size(file, error);
    if (!error) figures.file_bytes = bytes;
  }
  return figures;
}

nlohmann::json figures_json(const ModelFigures& figures, const std::filesystem::path& file) {
  nlohmann::json json = metric_values_json(figures.metrics);
  if (!file.empty()) {
    json["file"] = file.string();
    json["bytes"] = figures.file_bytes;
  }
  json["seconds"] = figures.seconds;
  json["examples_per_second"] = figures.examples_per_second;
  return json;
}

nlohmann::json comparison_json(const ModelFigures& before, const ModelFigures& after) {
  nlohmann::json json = nlohmann::json::object();
  if (before.file_bytes > 0 && after.file_bytes > 0) {
    json["size_ratio"] = static_cast<double>(after.file_bytes) / static_cast<double>(before.file_bytes);
  }
  if (before.examples_per_second > 0)
    json["speedup"] = after.examples_per_second / before.examples_per_second;
  for (std::size_t i = 0; i < before.metrics.size() && i < after.metrics.size(); ++i) {
    const double change = after.metrics[i].second - before.metrics[i].second;
    if (before.metrics[i].first == after.metrics[i].first && std::isfinite(change))
      json[before.metrics[i].first + "_change"] = change;
  }
  return json;
}

}  // namespace dlrun
