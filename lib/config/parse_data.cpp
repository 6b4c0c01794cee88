// `data:` (DESIGN.md §3): the training source, optional test source, the validation split or
// source, and the input transform settings.
#include <algorithm>
#include <map>

#include "config/sections.hpp"

namespace dlrun::detail {
namespace {

const std::map<std::string, std::vector<std::string>, std::less<>> kSourceKeys = {
    {"idx", {"format", "images", "labels"}},
    {"csv", {"format", "path", "label", "features", "header", "delimiter"}},
    {"npy", {"format", "inputs", "labels"}},
    {"text", {"format", "path", "sequence_length"}},
    {"timeseries", {"format", "path", "target", "window", "horizon", "features", "header", "delimiter"}},
    {"image_folder", {"format", "path", "size", "channels"}},
};

std::filesystem::path resolve(const std::filesystem::path& base_dir, const std::string& text) {
  const std::filesystem::path path(text);
  if (path.is_absolute()) return path.lexically_normal();
  return std::filesystem::absolute(base_dir / path).lexically_normal();
}

// Reads the path at `key` (resolved, and written back into the tree), or "" when absent and
// not required.
std::filesystem::path read_path(Node& source, Options& options, const std::string& key,
                                const std::filesystem::path& base_dir, bool required) {
  const std::string text = options.string(key, "");
  if (text.empty()) {
    if (required || options.has(key)) options.fail(key, "is required: a file path");
    return {};
  }
  const std::filesystem::path path = resolve(base_dir, text);
  Node* value = source.find(key);
  *value = Node::scalar(path.string(), value->where(), true);
  return path;
}

// One data source; `labels_needed` is false for autoencoders (target: inputs).
DataSource parse_source(Node& node, const std::string& context, const std::filesystem::path& base_dir,
                        bool labels_needed) {
  if (!node.is_map()) {
    throw ConfigError(
        node.where(),
        context + ": expected a data source such as {format: csv, path: ...}, got " + node.kind_name());
  }
  Options options(node, context);
  if (!options.has("format"))
    options.fail("format", "is required (idx, csv, npy, text, timeseries or image_folder)");
  DataSource source;
  source.where = node.where();
  source.format = options.choice("format", "", {"idx", "csv", "npy", "text", "timeseries", "image_folder"});
  check_keys(node, context, kSourceKeys.find(source.format)->second);

  if (source.format == "idx") {
    source.images = read_path(node, options, "images", base_dir, true);
    source.labels = read_path(node, options, "labels", base_dir, labels_needed);
  } else if (source.format == "npy") {
    source.inputs = read_path(node, options, "inputs", base_dir, true);
    source.labels = read_path(node, options, "labels", base_dir, labels_needed);
  } else if (source.format == "csv" || source.format == "timeseries") {
    source.path = read_path(node, options, "path", base_dir, true);
    if (source.format == "csv") {
      source.label_column = options.string("label", "");
    } else {
      if (!options.has("target")) options.fail("target", "is required: the name of the column to forecast");
      source.target_column = options.string("target", "");
      source.window = options.required_integer("window");
      options.require_at_least("window", static_cast<double>(source.window), 1);
      source.horizon = options.integer_at_least("horizon", 1, 1);
    }
    source.header = options.boolean("header", true);
    const std::string delimiter = options.string("delimiter", ",");
    if (delimiter.size() != 1 || delimiter == "\"" || delimiter == "\n" || delimiter == "\r") {
      options.fail("delimiter",
                   "must be one character other than a quote or a line break, e.g. \",\" or \"\\t\"");
    }
    source.delimiter = delimiter[0];
    if (const Node* features = options.raw("features")) {
      if (!features->is_sequence()) options.fail("features", "expected a list of column names");
      for (const Node& feature : features->items()) {
        source.features.push_back(feature.as_string(context + ": features"));
      }
    }
  } else if (source.format == "image_folder") {
    source.path = read_path(node, options, "path", base_dir, true);
    if (!options.has("size")) options.fail("size", "is required: [height, width] the images are resized to");
    source.image_size = options.integers("size", {}, 2);
    for (const Index side : source.image_size) options.require_at_least("size", static_cast<double>(side), 1);
    source.image_channels = options.integer("channels", 3);
    if (source.image_channels != 1 && source.image_channels != 3) {
      options.fail("channels", "must be 1 (grey) or 3 (RGB), got " + std::to_string(source.image_channels));
    }
  } else {  // text
    source.path = read_path(node, options, "path", base_dir, true);
    source.sequence_length = options.required_integer("sequence_length");
    options.require_at_least("sequence_length", static_cast<double>(source.sequence_length), 1);
  }
  return source;
}

ValidationSpec parse_validation(Node& node, const std::filesystem::path& base_dir, bool labels_needed) {
  ValidationSpec spec;
  if (node.is_null()) return spec;
  const std::string context = "data.validation";
  if (node.is_map() && node.find("split") != nullptr) {
    check_keys(node, context, {"split"});
    Options options(node, context);
    spec.kind = ValidationSpec::Kind::split;
    spec.fraction = options.required_number("split");
    if (!(spec.fraction > 0.0 && spec.fraction < 1.0)) {
      options.fail("split", "must be a fraction in (0, 1), got " + format_number(spec.fraction));
    }
    return spec;
  }
  if (!node.is_map()) {
    throw ConfigError(node.where(),
                      context + ": expected {split: FRACTION} or a data source, got " + node.kind_name());
  }
  spec.kind = ValidationSpec::Kind::source;
  spec.source = parse_source(node, context, base_dir, labels_needed);
  return spec;
}

// `categorical: [color, 3]` (names, or unquoted 0-based column numbers) or `categorical: auto`;
// `handle_unknown: error | ignore`.
CategoricalSpec parse_categorical(Options& options, const DataSource& train) {
  CategoricalSpec spec;
  spec.ignore_unknown = options.choice("handle_unknown", "error", {"error", "ignore"}) == "ignore";
  const Node* list = options.raw("categorical");
  if (list == nullptr || list->is_null()) return spec;
  spec.where = list->where();
  if (train.format != "csv") {
    options.fail("categorical", "applies to csv data only; data.train has format " + train.format);
  }
  if (list->is_scalar() && !list->quoted() && list->text() == "auto") {
    spec.detect = true;
    return spec;
  }
  if (!list->is_sequence() || list->items().empty()) {
    options.fail("categorical",
                 "expected auto or a non-empty list of column names or 0-based column numbers");
  }
  for (const Node& item : list->items()) {
    CategoricalSpec::Column column;
    const std::string text = item.as_string("data.categorical");
    const bool number = item.is_scalar() && !item.quoted() && !text.empty() &&
                        std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (number) {
      column.index = item.as_int("data.categorical");
    } else if (text.empty()) {
      throw ConfigError(item.where(), "data.categorical: an empty column name");
    } else {
      column.name = text;
    }
    spec.columns.push_back(std::move(column));
  }
  return spec;
}

}  // namespace

DataConfig parse_data(Node& node, const std::filesystem::path& base_dir) {
  check_keys(node, "data",
             {"train", "test", "validation", "scale", "normalize", "as_sequence", "target", "categorical",
              "handle_unknown"});
  Options options(node, "data");
  DataConfig config;
  config.scale = options.positive_number("scale", 1.0);
  config.normalize = options.choice("normalize", "none", {"none", "standard", "minmax"});
  config.as_sequence = options.boolean("as_sequence", false);
  config.target = options.choice("target", "labels", {"labels", "inputs"});
  const bool labels_needed = config.target == "labels";

  Node* train = node.find("train");
  if (train == nullptr || train->is_null()) {
    options.fail("train", "is required: the training data, e.g. {format: csv, path: data.csv}");
  }
  config.train = parse_source(*train, "data.train", base_dir, labels_needed);
  if (Node* test = node.find("test"); test != nullptr && !test->is_null()) {
    config.test = parse_source(*test, "data.test", base_dir, labels_needed);
  }
  if (Node* validation = node.find("validation"); validation != nullptr) {
    config.validation = parse_validation(*validation, base_dir, labels_needed);
  }
  config.categorical = parse_categorical(options, config.train);
  return config;
}

}  // namespace dlrun::detail
