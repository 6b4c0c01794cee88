#include "select/search_space.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "config/overrides.hpp"
#include "core/options.hpp"

namespace dlrun {
namespace {

const std::vector<std::string> kDistributions = {"choice", "uniform", "loguniform", "int", "int_log"};

Distribution distribution_of(const std::string& name) {
  if (name == "choice") return Distribution::choice;
  if (name == "uniform") return Distribution::uniform;
  if (name == "loguniform") return Distribution::loguniform;
  if (name == "int") return Distribution::int_uniform;
  return Distribution::int_log;
}

// A compact one-line rendering of a choice value ([64, 32], {units: 8}) for labels.
std::string flow_text(const Node& node) {
  if (node.is_scalar()) return node.quoted() ? "\"" + node.text() + "\"" : node.text();
  if (node.is_null()) return "null";
  std::string text;
  if (node.is_sequence()) {
    for (const Node& item : node.items()) text += (text.empty() ? "" : ", ") + flow_text(item);
    return "[" + text + "]";
  }
  for (const auto& entry : node.entries()) {
    text += (text.empty() ? "" : ", ") + entry.key + ": " + flow_text(entry.value);
  }
  return "{" + text + "}";
}

bool is_whole(double x) {
  return std::floor(x) == x;
}

// `[lo, hi]` of a numeric distribution, checked for its kind.
void read_bounds(Dimension& dimension, const Node& bounds, const std::string& context) {
  if (!bounds.is_sequence() || bounds.items().size() != 2) {
    throw ConfigError(bounds.where(), context + ": expected [low, high], got " + bounds.kind_name());
  }
  dimension.low = bounds.items()[0].as_double(context + ": low");
  dimension.high = bounds.items()[1].as_double(context + ": high");
  if (dimension.is_integer() && (!is_whole(dimension.low) || !is_whole(dimension.high))) {
    throw ConfigError(bounds.where(), context + ": bounds must be integers, got [" +
                                          format_number(dimension.low) + ", " +
                                          format_number(dimension.high) + "]");
  }
  if (!(dimension.low < dimension.high)) {
    throw ConfigError(bounds.where(), context + ": low must be < high, got [" + format_number(dimension.low) +
                                          ", " + format_number(dimension.high) + "]");
  }
  if (dimension.is_log() && dimension.low <= 0.0) {
    throw ConfigError(bounds.where(),
                      context + ": a log scale needs low > 0, got " + format_number(dimension.low));
  }
}

void read_grid(Dimension& dimension, const Node& grid, const std::string& context) {
  if (!grid.is_sequence() || grid.items().empty()) {
    throw ConfigError(grid.where(),
                      context + ": grid: expected a non-empty list of values, got " + grid.kind_name());
  }
  for (const Node& item : grid.items()) {
    const double x = item.as_double(context + ": grid");
    if (x < dimension.low || x > dimension.high) {
      throw ConfigError(item.where(), context + ": grid point " + format_number(x) + " is outside [" +
                                          format_number(dimension.low) + ", " +
                                          format_number(dimension.high) + "]");
    }
    if (dimension.is_integer() && !is_whole(x)) {
      throw ConfigError(item.where(), context + ": grid point " + format_number(x) + " is not an integer");
    }
    if (std::find(dimension.grid.begin(), dimension.grid.end(), x) != dimension.grid.end()) {
      throw ConfigError(item.where(), context + ": grid point " + format_number(x) + " is listed twice");
    }
    dimension.grid.push_back(x);
  }
}

void read_choices(Dimension& dimension, const Node& choices, const std::string& context) {
  if (choices.is_sequence() && !choices.items().empty()) {
    for (const Node& item : choices.items()) {
      dimension.choices.push_back(item);
      dimension.labels.push_back(flow_text(item));
    }
  } else if (choices.is_map() && !choices.entries().empty()) {
    // Named choices: {small: [...], large: [...]} show their names in trials.csv.
    for (const auto& entry : choices.entries()) {
      dimension.choices.push_back(entry.value);
      dimension.labels.push_back(entry.key);
    }
  } else {
    throw ConfigError(choices.where(), context +
                                           ": choice: expected a non-empty list of values (or a "
                                           "mapping of names to values), got " +
                                           choices.kind_name());
  }
  for (std::size_t i = 0; i < dimension.labels.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (dimension.labels[i] == dimension.labels[j]) {
        throw ConfigError(choices.where(),
                          context + ": choice '" + dimension.labels[i] + "' is listed twice");
      }
    }
  }
}

Dimension parse_dimension(const NodeEntry& entry) {
  const std::string context = "search.space." + entry.key;
  const Node& node = entry.value;
  if (!node.is_map()) {
    throw ConfigError(node.where().known() ? node.where() : entry.key_where,
                      context +
                          ": expected a distribution such as {choice: [1, 2]} or "
                          "{loguniform: [1.0e-4, 1.0e-1]}, got " +
                          node.kind_name());
  }
  Dimension dimension;
  dimension.path = entry.key;
  dimension.where = entry.key_where;
  const NodeEntry* distribution = nullptr;
  const Node* grid = nullptr;
  for (const auto& option : node.entries()) {
    if (option.key == "grid") {
      grid = &option.value;
    } else if (std::find(kDistributions.begin(), kDistributions.end(), option.key) != kDistributions.end()) {
      if (distribution) {
        throw ConfigError(option.key_where, context + ": two distributions ('" + distribution->key +
                                                "' and '" + option.key + "'); give one");
      }
      distribution = &option;
    } else {
      std::vector<std::string> known = kDistributions;
      known.push_back("grid");
      throw ConfigError(option.key_where,
                        context + ": unknown distribution '" + option.key + "'" +
                            did_you_mean(option.key, known) +
                            "; allowed: choice, uniform, loguniform, int, int_log (and grid)");
    }
  }
  if (!distribution) {
    throw ConfigError(node.where(), context +
                                        ": no distribution; give one of choice, uniform, loguniform, "
                                        "int, int_log");
  }
  dimension.distribution = distribution_of(distribution->key);
  const std::string where = context + "." + distribution->key;
  if (dimension.distribution == Distribution::choice) {
    if (grid) throw ConfigError(grid->where(), context + ": grid: a choice's grid is its list of values");
    read_choices(dimension, distribution->value, where);
  } else {
    read_bounds(dimension, distribution->value, where);
    if (grid) read_grid(dimension, *grid, context);
  }
  return dimension;
}

// The shortest text (up to 9 significant digits, as format_number writes) and its value.
double parse_number(const std::string& text) {
  double value = 0.0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

}  // namespace

bool Dimension::is_integer() const {
  return distribution == Distribution::int_uniform || distribution == Distribution::int_log;
}

bool Dimension::is_log() const {
  return distribution == Distribution::loguniform || distribution == Distribution::int_log;
}

std::vector<std::string> SearchSpace::paths() const {
  std::vector<std::string> paths;
  for (const Dimension& dimension : dimensions) paths.push_back(dimension.path);
  return paths;
}

SearchSpace parse_search_space(const Node& space) {
  if (!space.is_map() || space.entries().empty()) {
    throw ConfigError(space.where(),
                      "search.space: expected a mapping from override paths to distributions, e.g. "
                      "optimizer.lr: {loguniform: [1.0e-4, 1.0e-1]}");
  }
  SearchSpace result;
  for (const auto& entry : space.entries()) result.dimensions.push_back(parse_dimension(entry));
  return result;
}

double round_to_written(const Dimension& dimension, double x) {
  if (!dimension.is_numeric()) return x;
  if (dimension.is_integer()) return std::clamp(std::round(x), dimension.low, dimension.high);
  return std::clamp(parse_number(format_number(x)), dimension.low, dimension.high);
}

Node value_node(const Dimension& dimension, double x) {
  if (!dimension.is_numeric()) {
    Node value = dimension.choices.at(static_cast<std::size_t>(x));
    return value;
  }
  return Node::scalar(value_text(dimension, x), dimension.where);
}

std::string value_text(const Dimension& dimension, double x) {
  if (!dimension.is_numeric()) return dimension.labels.at(static_cast<std::size_t>(x));
  if (dimension.is_integer()) return std::to_string(static_cast<long long>(std::llround(x)));
  return format_number(x);
}

nlohmann::json value_json(const Dimension& dimension, double x) {
  if (dimension.is_integer()) return static_cast<long long>(std::llround(x));
  if (dimension.is_numeric()) return x;
  const Node& value = dimension.choices.at(static_cast<std::size_t>(x));
  const std::string& label = dimension.labels.at(static_cast<std::size_t>(x));
  // Plain numbers and booleans stay numbers and booleans; anything else is its label.
  if (value.is_scalar() && !value.quoted() && value.text() == label) {
    try {
      return value.as_int("");
    } catch (const ConfigError&) {
    }
    try {
      return value.as_double("");
    } catch (const ConfigError&) {
    }
    try {
      return value.as_bool("");
    } catch (const ConfigError&) {
    }
  }
  return label;
}

nlohmann::json params_json(const SearchSpace& space, const Point& point) {
  nlohmann::json params = nlohmann::json::object();
  for (std::size_t d = 0; d < space.dimensions.size(); ++d) {
    params[space.dimensions[d].path] = value_json(space.dimensions[d], point[d]);
  }
  return params;
}

Node apply_point(const SearchSpace& space, const Point& point, Node tree) {
  for (std::size_t d = 0; d < space.dimensions.size(); ++d) {
    const Dimension& dimension = space.dimensions[d];
    set_path(tree, dimension.path, value_node(dimension, point[d]), dimension.where);
  }
  return tree;
}

Point sample_uniform(const SearchSpace& space, Rng& rng) {
  Point point;
  for (const Dimension& dimension : space.dimensions) {
    const double u = rng.uniform();
    double x = 0.0;
    switch (dimension.distribution) {
      case Distribution::choice:
        x = static_cast<double>(
            std::min(static_cast<std::size_t>(u * static_cast<double>(dimension.choices.size())),
                     dimension.choices.size() - 1));
        break;
      case Distribution::uniform:
        x = dimension.low + u * (dimension.high - dimension.low);
        break;
      case Distribution::loguniform:
        x = std::exp(std::log(dimension.low) + u * (std::log(dimension.high) - std::log(dimension.low)));
        break;
      case Distribution::int_uniform:
        x = std::floor(dimension.low + u * (dimension.high - dimension.low + 1.0));
        break;
      case Distribution::int_log: {
        // Each integer gets the log-width of [k - 0.5, k + 0.5].
        const double lo = std::log(dimension.low - 0.5);
        const double hi = std::log(dimension.high + 0.5);
        x = std::round(std::exp(lo + u * (hi - lo)));
        break;
      }
    }
    point.push_back(round_to_written(dimension, x));
  }
  return point;
}

ModelBounds model_bounds(const Dimension& dimension) {
  double low = dimension.low;
  double high = dimension.high;
  if (dimension.is_integer()) {
    low -= 0.5;
    high += 0.5;
  }
  if (dimension.is_log()) return {std::log(low), std::log(high)};
  return {low, high};
}

double to_model_scale(const Dimension& dimension, double x) {
  return dimension.is_log() ? std::log(x) : x;
}

double from_model_scale(const Dimension& dimension, double y) {
  return round_to_written(dimension, dimension.is_log() ? std::exp(y) : y);  // it clamps to the bounds
}

}  // namespace dlrun
