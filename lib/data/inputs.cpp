#include "data/inputs.hpp"

#include "data/categorical.hpp"
#include "data/csv_reader.hpp"
#include "data/idx_reader.hpp"
#include "data/load.hpp"
#include "data/npy_reader.hpp"

namespace dlrun {

Dataset read_prediction_inputs(const std::filesystem::path& file, std::string format,
                               const DataConfig& config, const Dataset& train) {
  if (format.empty()) {
    const std::string extension = file.extension().string();
    format = extension == ".csv" ? "csv" : extension == ".npy" ? "npy" : "idx";
  }
  Dataset inputs;
  if (format == "csv") {
    DataSource source = config.train;
    source.format = "csv";
    source.path = file;
    source.label_column.clear();
    if (train.categorical_cells) {
      // The file's columns, by name; the categorical ones encoded with the training categories.
      source.features = train.categorical_cells->features;
      CategoricalSpec categorical;
      for (const auto& column : train.categories) categorical.columns.push_back({column.name, -1});
      inputs = one_hot_encode(read_csv(source, LabelKind::none, categorical), train.categories,
                              config.categorical.ignore_unknown);
    } else {
      source.features = train.feature_names;
      inputs = read_csv(source, LabelKind::none);
    }
  } else if (format == "npy") {
    inputs = read_npy(file, {}, LabelKind::none);
  } else if (format == "idx") {
    inputs = read_idx(file, {});
  } else {
    throw ConfigError("--format: unknown input format '" + format + "' (idx, csv or npy)");
  }
  if (config.as_sequence) apply_as_sequence(inputs, Location{file.string(), 0, 0});
  if (inputs.sample_shape != train.sample_shape) {
    throw DataError(file.string() + ": examples have shape " + inputs.sample_shape.to_string() +
                    ", the model was trained on " + train.sample_shape.to_string());
  }
  return inputs;
}

}  // namespace dlrun
