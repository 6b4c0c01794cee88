#include "data/timeseries_reader.hpp"

#include <algorithm>

#include "core/errors.hpp"
#include "data/csv_reader.hpp"

namespace dlrun {

Dataset read_timeseries(const DataSource& source) {
  require(source.window >= 1 && source.horizon >= 1, "read_timeseries: window and horizon must be >= 1");
  // Read the feature columns and the target as one table (read_csv checks names and cells).
  DataSource table_source = source;
  table_source.label_column.clear();
  const bool target_appended =
      !source.features.empty() && std::find(source.features.begin(), source.features.end(),
                                            source.target_column) == source.features.end();
  if (target_appended) table_source.features.push_back(source.target_column);
  Dataset table;
  try {
    table = read_csv(table_source, LabelKind::none);
  } catch (const ConfigError& error) {
    // read_csv calls every column it reads a feature; the appended one is the target.
    std::string message = error.what();
    const std::string wrong = "feature '" + source.target_column + "' is not a column";
    const std::size_t at = message.find(wrong);
    if (!target_appended || at == std::string::npos) throw;
    message.replace(at, 7, "target");
    throw ConfigError(message);
  }
  const std::vector<std::string>& columns = table.feature_names;
  const auto target_at = std::find(columns.begin(), columns.end(), source.target_column);
  if (target_at == columns.end()) {
    std::string names;
    for (const auto& name : columns) names += (names.empty() ? "" : ", ") + name;
    throw ConfigError(source.where, "target '" + source.target_column + "' is not a column of " +
                                        source.path.string() + did_you_mean(source.target_column, columns) +
                                        "; columns: " + names);
  }
  const auto target = static_cast<std::size_t>(target_at - columns.begin());
  const std::size_t width = columns.size();
  // The feature columns, in the order given (all columns when none are given).
  std::vector<std::size_t> feature_columns;
  for (std::size_t c = 0; c < width; ++c) {
    if (source.features.empty() || c < source.features.size()) feature_columns.push_back(c);
  }

  const Index rows = table.size();
  const Index count = rows - source.window - source.horizon + 1;
  if (count < 1) {
    throw DataError(Location{source.path.string()},
                    "time series has " + std::to_string(rows) + " rows; window " +
                        std::to_string(source.window) + " and horizon " + std::to_string(source.horizon) +
                        " need at least " + std::to_string(source.window + source.horizon));
  }

  Dataset dataset;
  dataset.source = source.path.string();
  dataset.time_series = true;
  const auto features = static_cast<Index>(feature_columns.size());
  dataset.sample_shape = Shape{source.window, features};
  for (const std::size_t c : feature_columns) dataset.feature_names.push_back(columns[c]);
  dataset.target_shape = Shape{1};
  dataset.floats.reserve(static_cast<std::size_t>(count * source.window * features));
  dataset.targets.reserve(static_cast<std::size_t>(count));
  const auto cell = [&](Index row, std::size_t column) {
    return table.floats[static_cast<std::size_t>(row) * width + column];
  };
  for (Index i = 0; i < count; ++i) {
    for (Index t = i; t < i + source.window; ++t) {
      for (const std::size_t c : feature_columns) dataset.floats.push_back(cell(t, c));
    }
    dataset.targets.push_back(cell(i + source.window - 1 + source.horizon, target));
  }
  return dataset;
}

}  // namespace dlrun
