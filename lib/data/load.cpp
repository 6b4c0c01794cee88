#include "data/load.hpp"

#include <algorithm>
#include <numeric>

#include "core/errors.hpp"
#include "core/options.hpp"
#include "data/categorical.hpp"
#include "data/csv_reader.hpp"
#include "data/idx_reader.hpp"
#include "data/image_folder_reader.hpp"
#include "data/npy_reader.hpp"
#include "data/text_reader.hpp"
#include "data/timeseries_reader.hpp"
#include "data/vocabulary.hpp"

namespace dlrun {
namespace {

const std::filesystem::path& required_path(const DataSource& source, const std::filesystem::path& path,
                                           std::string_view key) {
  if (path.empty()) {
    throw ConfigError(source.where,
                      "a data source of format " + source.format + " needs '" + std::string(key) + "'");
  }
  return path;
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

// data.categorical as the training data resolved it (`auto` and column numbers become the names
// found there), for reading other files with the same categorical columns.
CategoricalSpec categorical_of(const Dataset& train, const CategoricalSpec& config) {
  CategoricalSpec spec;
  spec.where = config.where;
  spec.ignore_unknown = config.ignore_unknown;
  if (!train.categorical_cells) return spec;
  for (const auto& column : train.categorical_cells->columns) spec.columns.push_back({column.name, -1});
  return spec;
}

std::shared_ptr<Dataset> read_matching(const DataSource& source, bool classification,
                                       const DataConfig& config, const Dataset& train) {
  DataConfig matching = config;
  matching.categorical = categorical_of(train, config.categorical);
  auto dataset = std::make_shared<Dataset>(read_source(source, classification, matching));
  if (config.as_sequence) apply_as_sequence(*dataset, source.where);
  align_with_train(train, *dataset);
  return dataset;
}

std::vector<Index> all_rows(const Dataset& dataset) {
  std::vector<Index> rows(static_cast<std::size_t>(dataset.size()));
  std::iota(rows.begin(), rows.end(), Index{0});
  return rows;
}

}  // namespace

Dataset read_source(const DataSource& source, bool classification, const DataConfig& config) {
  const bool autoencoder = config.target == "inputs";
  if (source.format == "idx") {
    const auto& images = required_path(source, source.images, "images");
    return read_idx(images, autoencoder ? source.labels : required_path(source, source.labels, "labels"));
  }
  if (source.format == "csv") {
    const LabelKind kind = autoencoder && source.label_column.empty() ? LabelKind::none
                           : classification                           ? LabelKind::classes
                                                                      : LabelKind::targets;
    required_path(source, source.path, "path");
    return read_csv(source, kind, config.categorical);
  }
  if (source.format == "npy") {
    const auto& inputs = required_path(source, source.inputs, "inputs");
    const auto& labels = autoencoder ? source.labels : required_path(source, source.labels, "labels");
    return read_npy(inputs, labels, classification ? LabelKind::classes : LabelKind::targets);
  }
  if (source.format == "text") {
    if (source.sequence_length < 1) throw ConfigError(source.where, "text data needs 'sequence_length' >= 1");
    return read_text(required_path(source, source.path, "path"), source.sequence_length);
  }
  if (source.format == "timeseries") {
    required_path(source, source.path, "path");
    if (source.window < 1) throw ConfigError(source.where, "timeseries data needs 'window' >= 1");
    return read_timeseries(source);
  }
  if (source.format == "image_folder") {
    if (!autoencoder && !classification) {
      throw ConfigError(source.where,
                        "image_folder data has classes (its folders): use a classification loss");
    }
    if (source.image_size.size() != 2)
      throw ConfigError(source.where, "image_folder data needs 'size: [H, W]'");
    const ImageFolderSpec spec{required_path(source, source.path, "path"), source.image_size[0],
                               source.image_size[1], source.image_channels};
    return read_image_folder(spec, !autoencoder);
  }
  const std::vector<std::string> formats{"idx", "csv", "npy", "text", "timeseries", "image_folder"};
  throw ConfigError(source.where, "unknown data format '" + source.format + "'" +
                                      did_you_mean(source.format, formats) +
                                      "; expected idx, csv, npy, text, timeseries or image_folder");
}

void apply_as_sequence(Dataset& dataset, const Location& where) {
  const Shape& shape = dataset.sample_shape;
  if (shape.rank() == 3 && shape[0] == 1) {
    dataset.sample_shape = Shape{shape[1], shape[2]};
  } else if (shape.rank() != 2) {
    throw ConfigError(where, "as_sequence needs images of shape [1, H, W] (or sequences [T, F]); " +
                                 dataset.source + " has examples of shape " + shape.to_string());
  }
}

void align_with_train(const Dataset& train, Dataset& other) {
  if (other.sample_shape != train.sample_shape) {
    throw DataError("examples of shape " + other.sample_shape.to_string() + " in " + other.source +
                    ", but of shape " + train.sample_shape.to_string() + " in the training data " +
                    train.source);
  }
  if (!other.feature_names.empty() && !train.feature_names.empty() &&
      other.feature_names != train.feature_names) {
    throw DataError("feature columns differ: " + other.source + " has [" + joined(other.feature_names) +
                    "], the training data " + train.source + " has [" + joined(train.feature_names) + "]");
  }
  if (!train.targets.empty() && !other.targets.empty() && other.target_shape != train.target_shape) {
    throw DataError("targets of shape " + other.target_shape.to_string() + " in " + other.source +
                    ", but of shape " + train.target_shape.to_string() + " in the training data " +
                    train.source);
  }
  if (!train.is_classification() || !other.is_classification()) return;
  if (other.labels_per_sample != train.labels_per_sample) {
    throw DataError(std::to_string(other.labels_per_sample) + " labels per example in " + other.source +
                    ", but " + std::to_string(train.labels_per_sample) + " in the training data " +
                    train.source);
  }
  if (other.class_names == train.class_names) return;
  std::vector<std::int32_t> to_train(other.class_names.size());
  for (std::size_t c = 0; c < other.class_names.size(); ++c) {
    const auto at = std::find(train.class_names.begin(), train.class_names.end(), other.class_names[c]);
    if (at == train.class_names.end() && other.token_ids) {
      // No unknown-character token: the model has no output or embedding row for it.
      throw DataError(other.source + ": character " +
                      describe_character(static_cast<std::uint8_t>(other.class_names[c][0])) +
                      " is not in the vocabulary of the training text " + train.source + " (" +
                      std::to_string(train.class_names.size()) +
                      " characters); dlrun has no unknown-character token: replace or remove it");
    }
    if (at == train.class_names.end()) {
      throw DataError("class '" + other.class_names[c] + "' of " + other.source +
                      " does not occur in the training data " + train.source +
                      " (classes: " + joined(train.class_names) + ")");
    }
    to_train[c] = static_cast<std::int32_t>(at - train.class_names.begin());
  }
  for (auto& label : other.labels) label = to_train[static_cast<std::size_t>(label)];
  if (other.token_ids) {
    for (auto& token : other.bytes) token = static_cast<std::uint8_t>(to_train[token]);
  }
  other.class_names = train.class_names;
}

void encode_and_fit(LoadedData& loaded, const DataConfig& config) {
  const std::shared_ptr<const Dataset> raw_train = loaded.train.dataset;
  if (raw_train->categorical_cells) {
    const std::vector<CategoricalColumn> categories = fit_categories(*raw_train, loaded.train.rows);
    // Views of one dataset (train and its validation split, or a cv fold's held-out rows) share
    // one encoded copy.
    std::vector<std::pair<std::shared_ptr<const Dataset>, std::shared_ptr<const Dataset>>> encoded;
    for (DataView* view : {&loaded.train, &loaded.validation, &loaded.test}) {
      if (!view->dataset) continue;
      const auto same = std::find_if(encoded.begin(), encoded.end(),
                                     [&](const auto& item) { return item.first == view->dataset; });
      if (same != encoded.end()) {
        view->dataset = same->second;
        continue;
      }
      auto copy = std::make_shared<const Dataset>(
          one_hot_encode(*view->dataset, categories, config.categorical.ignore_unknown));
      encoded.emplace_back(view->dataset, copy);
      view->dataset = std::move(copy);
    }
  }
  loaded.transform =
      InputTransform::fit(*loaded.train.dataset, loaded.train.rows, config.scale, config.normalize);
}

LoadedData load_data(const DataConfig& config, bool classification, std::uint64_t seed) {
  LoadedData loaded = load_unencoded_data(config, classification, seed);
  encode_and_fit(loaded, config);
  return loaded;
}

LoadedData load_unencoded_data(const DataConfig& config, bool classification, std::uint64_t seed) {
  auto train = std::make_shared<Dataset>(read_source(config.train, classification, config));
  if (config.as_sequence) apply_as_sequence(*train, config.train.where);
  if (train->token_ids && (config.scale != 1.0 || config.normalize != "none")) {
    throw ConfigError(config.train.where,
                      "data.scale and data.normalize do not apply to text data (its inputs are token ids)");
  }

  LoadedData loaded;
  loaded.train = DataView{train, all_rows(*train)};
  if (config.validation.kind == ValidationSpec::Kind::split) {
    const double fraction = config.validation.fraction;
    if (!(fraction > 0.0 && fraction < 1.0)) {
      throw ConfigError(config.train.where,
                        "data.validation.split must be in (0, 1), got " + format_number(fraction));
    }
    Rng rng = Rng::for_stream(seed, "split");
    Split split = split_rows(*train, loaded.train.rows, fraction, rng);
    loaded.train.rows = std::move(split.train);
    loaded.validation = DataView{train, std::move(split.held_out)};
  } else if (config.validation.kind == ValidationSpec::Kind::source) {
    auto validation = read_matching(config.validation.source, classification, config, *train);
    loaded.validation = DataView{validation, all_rows(*validation)};
  }
  if (config.test) {
    auto test = read_matching(*config.test, classification, config, *train);
    loaded.test = DataView{test, all_rows(*test)};
  }
  return loaded;
}

}  // namespace dlrun
