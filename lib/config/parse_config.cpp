#include "config/parse_config.hpp"

#include <algorithm>
#include <map>

#include "config/overrides.hpp"
#include "config/sections.hpp"
#include "config/yaml_loader.hpp"

namespace dlrun {

namespace detail {

void check_keys(const Node& node, const std::string& context, const std::vector<std::string>& known) {
  Options(node, context, known).finish(known);
}

const Node& empty_node() {
  static const Node empty;
  return empty;
}

}  // namespace detail

namespace {

using detail::check_keys;

const std::vector<std::string> kTopKeys = {"name",   "seed",    "threads",   "data",     "model",
                                           "loss",   "metrics", "optimizer", "schedule", "train",
                                           "output", "cv",      "search",    "prune"};
const std::vector<std::string> kMetrics = {"accuracy", "top_k_accuracy", "precision", "recall", "f1",
                                           "mae",      "rmse",           "r2"};

// The run name becomes a folder name: no separators, no control characters, not "." or "..".
void check_run_name(Options& options, const std::string& name) {
  bool ok = !name.empty() && name.size() <= 200 && name != "." && name != "..";
  for (const char c : name) ok = ok && c != '/' && c != '\\' && static_cast<unsigned char>(c) >= 0x20;
  if (!ok) options.fail("name", "must be a usable folder name (no '/', not empty), got '" + name + "'");
}

// Layer names appear in override paths and checkpoint tensor names (`fc1.weight`).
bool is_layer_name(const std::string& name) {
  bool digits_only = true;
  for (const char c : name) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && c != '_' && c != '-') return false;
    digits_only = digits_only && c >= '0' && c <= '9';
  }
  return !name.empty() && !digits_only;
}

std::vector<LayerConfig> parse_layers(const Node& model) {
  check_keys(model, "model", {"layers"});
  Options options(model, "model");
  const Node* layers = options.raw("layers");
  if (layers == nullptr) options.fail("layers", "is required: a list such as [{type: dense, units: 10}]");
  if (!layers->is_sequence() || layers->items().empty()) {
    options.fail("layers", "expected a non-empty list of layers, got " + layers->kind_name());
  }
  const std::vector<std::string> default_names = element_names(*layers);
  std::vector<LayerConfig> result;
  std::map<std::string, std::size_t, std::less<>> index_of_name;
  for (std::size_t i = 0; i < layers->items().size(); ++i) {
    const Node& item = layers->items()[i];
    const std::string context = "model.layers." + std::to_string(i);
    if (!item.is_map()) {
      throw ConfigError(item.where(), context + ": expected a layer such as {type: dense, units: 10}, got " +
                                          item.kind_name());
    }
    Options layer(item, context);
    LayerConfig config;
    config.type = layer.required_string("type");
    if (config.type.empty()) layer.fail("type", "must name a layer type");
    config.type_where = layer.where("type");
    config.where = item.where();
    Location name_where = item.where();
    if (layer.has("name")) {
      config.name = layer.string("name", "");
      if (!is_layer_name(config.name)) {
        layer.fail("name",
                   "must be letters, digits, '_' or '-' (and not only digits), got '" + config.name + "'");
      }
      name_where = layer.where("name");
    } else {
      config.name = default_names[i];
    }
    const auto [previous, inserted] = index_of_name.emplace(config.name, i);
    if (!inserted) {
      const LayerConfig& first = result[previous->second];
      throw ConfigError(
          name_where, context + ": duplicate layer name '" + config.name + "' (also layer " +
                          std::to_string(previous->second) +
                          (first.where.line > 0 ? " at line " + std::to_string(first.where.line) : "") + ")");
    }
    config.options = item;
    config.options.erase("type");
    config.options.erase("name");
    result.push_back(std::move(config));
  }
  return result;
}

// `loss: huber`, `loss: {type: huber, delta: 1.0}`; the same shapes for optimizer and schedule.
TypedOptions parse_typed(const Node& node, const std::string& context) {
  TypedOptions typed;
  typed.where = node.where();
  if (node.is_scalar()) {
    typed.type = node.as_string(context);
    typed.type_where = node.where();
  } else if (node.is_map()) {
    Options options(node, context);
    typed.type = options.required_string("type");
    typed.type_where = options.where("type");
    typed.options = node;
    typed.options.erase("type");
  } else {
    throw ConfigError(node.where(),
                      context + ": expected a name or a mapping with a type, got " + node.kind_name());
  }
  if (typed.type.empty()) throw ConfigError(typed.type_where, context + ": the type must not be empty");
  return typed;
}

std::vector<std::string> parse_metrics(const Node* node, const std::string& loss_type) {
  if (node == nullptr) {
    if (loss_type == "cross_entropy" || loss_type == "binary_cross_entropy") return {"accuracy"};
    if (loss_type == "mse" || loss_type == "mae" || loss_type == "huber") return {"mae", "rmse"};
    return {};  // an unknown loss: its registry reports it
  }
  std::vector<const Node*> items;
  if (node->is_scalar()) {
    items.push_back(node);
  } else if (node->is_sequence()) {
    for (const Node& item : node->items()) items.push_back(&item);
  } else {
    throw ConfigError(node->where(), "metrics: expected a list of metric names, got " + node->kind_name());
  }
  std::vector<std::string> metrics;
  for (const Node* item : items) {
    const std::string name = item->as_string("metrics");
    if (std::find(kMetrics.begin(), kMetrics.end(), name) == kMetrics.end()) {
      std::string allowed;
      for (const auto& metric : kMetrics) allowed += (allowed.empty() ? "" : ", ") + metric;
      throw ConfigError(item->where(), "metrics: unknown metric '" + name + "'" +
                                           did_you_mean(name, kMetrics) + "; allowed: " + allowed);
    }
    if (std::find(metrics.begin(), metrics.end(), name) != metrics.end()) {
      throw ConfigError(item->where(), "metrics: '" + name + "' is listed twice");
    }
    metrics.push_back(name);
  }
  return metrics;
}

// Puts name and seed first in the tree when the file left them out (or empty).
void fill_tree_defaults(Node& tree, const Config& config) {
  auto fill = [&](const std::string& key, Node value, std::size_t position) {
    if (Node* existing = tree.find(key)) {
      if (existing->is_null()) *existing = std::move(value);
      return;
    }
    auto& entries = tree.entries();
    entries.insert(entries.begin() + static_cast<std::ptrdiff_t>(std::min(position, entries.size())),
                   NodeEntry{key, Location{}, std::move(value)});
  };
  fill("name", Node::scalar(config.name, {}, true), 0);
  fill("seed", Node::scalar(std::to_string(config.seed)), 1);
}

}  // namespace

Config config_from_tree(Node tree, const std::filesystem::path& file) {
  if (!tree.is_map())
    throw ConfigError(tree.where(), "the config must be a mapping, got " + tree.kind_name());
  check_keys(tree, "", kTopKeys);  // "unknown key 'trian' (did you mean 'train'?)"
  Options top(tree, "config");
  Config config;
  config.file = file;

  const std::string stem = file.stem().string();
  config.name = top.string("name", stem.empty() ? "run" : stem);
  check_run_name(top, config.name);
  const Index seed = top.integer("seed", 42);
  top.require_at_least("seed", static_cast<double>(seed), 0);
  config.seed = static_cast<std::uint64_t>(seed);
  const Index threads = top.integer("threads", 0);
  top.require_in("threads", static_cast<double>(threads), 0, 65536, false);
  config.threads = static_cast<int>(threads);
  config.output = top.string("output", "runs");
  if (config.output.empty()) top.fail("output", "must name a folder");

  Node* data = tree.find("data");
  if (data == nullptr || data->is_null()) top.fail("data", "is required: data: {train: {format: ..., ...}}");
  config.data = detail::parse_data(*data, file.parent_path());

  const Node* model = top.raw("model");
  if (model == nullptr) top.fail("model", "is required: model: {layers: [...]}");
  config.layers = parse_layers(*model);

  const Node* loss = top.raw("loss");
  config.loss = loss ? parse_typed(*loss, "loss") : TypedOptions{"cross_entropy", {}, Node(), {}};
  config.metrics = parse_metrics(top.raw("metrics"), config.loss.type);
  if (const Node* optimizer = top.raw("optimizer")) {
    config.optimizer = parse_typed(*optimizer, "optimizer");
  } else {
    config.optimizer.type = "adam";
    config.optimizer.options = Node::map();
    config.optimizer.options.set("lr", Node::scalar("0.001"));
  }
  if (const Node* schedule = top.raw("schedule")) config.schedule = parse_typed(*schedule, "schedule");

  const Node* train = top.raw("train");
  config.train = detail::parse_train(train ? *train : detail::empty_node());
  const Node* cv = top.raw("cv");
  config.cv = detail::parse_cv(cv ? *cv : detail::empty_node());
  const Node* search = top.raw("search");
  config.search = detail::parse_search(search ? *search : detail::empty_node());
  if (const Node* prune = top.raw("prune")) config.prune = detail::parse_prune(*prune);

  fill_tree_defaults(tree, config);
  config.tree = std::move(tree);
  return config;
}

Config load_config(const std::filesystem::path& file, const std::vector<std::string>& overrides) {
  Node tree = load_yaml_file(file);
  for (const std::string& assignment : overrides) apply_override(tree, assignment, "--set " + assignment);
  return config_from_tree(std::move(tree), file);
}

}  // namespace dlrun
