#include "select/search_outputs.hpp"

#include <cmath>

#include "core/options.hpp"

namespace dlrun {
namespace {

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (const char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

}  // namespace

std::string trials_csv(const SearchSpace& space, const std::string& metric_name,
                       const std::vector<TrialRecord>& trials) {
  std::string text = "trial";
  for (const Dimension& dimension : space.dimensions) text += "," + csv_field(dimension.path);
  text += "," + csv_field(metric_name) + ",epochs,seconds,status,error\n";
  for (const TrialRecord& record : trials) {
    if (record.trial == 0) continue;
    text += std::to_string(record.trial);
    for (std::size_t d = 0; d < space.dimensions.size(); ++d) {
      text += "," + csv_field(value_text(space.dimensions[d], record.point[d]));
    }
    const double metric = record.outcome.metric;
    text += "," + (std::isfinite(metric) ? format_number(metric) : std::string());
    text += "," + std::to_string(record.outcome.epochs);
    text += "," + format_number(std::round(record.seconds * 1000.0) / 1000.0);
    text += "," + record.status + "," + csv_field(record.outcome.error) + "\n";
  }
  return text;
}

std::optional<std::size_t> best_trial(const std::vector<TrialRecord>& trials, bool maximize) {
  std::optional<std::size_t> best;
  for (std::size_t i = 0; i < trials.size(); ++i) {
    const TrialRecord& record = trials[i];
    if (record.trial == 0 || record.status != "completed" || !std::isfinite(record.outcome.metric)) continue;
    const double metric = record.outcome.metric;
    const double best_metric = best ? trials[*best].outcome.metric : 0.0;
    if (!best || (maximize ? metric > best_metric : metric < best_metric)) best = i;
  }
  return best;
}

}  // namespace dlrun
