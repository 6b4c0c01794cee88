// The space of a hyperparameter search (`search.space`, DESIGN.md §3; docs/search.md): one
// dimension per override path, each with a distribution. A point of the space is one number per
// dimension: the index of the choice for `choice`, the value itself otherwise. Points turn into
// config values (YAML nodes set at the dimension's path), CSV cells and JSON.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/node.hpp"
#include "core/random.hpp"
#include "data/load.hpp"

namespace dlrun {

enum class Distribution { choice, uniform, loguniform, int_uniform, int_log };

struct Dimension {
  std::string path;  // an override path, e.g. "optimizer.lr"
  Distribution distribution = Distribution::choice;
  std::vector<Node> choices;        // choice: the values
  std::vector<std::string> labels;  // choice: how trials.csv and JSON name each value
  double low = 0.0;                 // numeric: the bounds, inclusive
  double high = 0.0;
  std::vector<double> grid;  // numeric: the points a grid search takes (may be empty)
  Location where;            // the space key, for messages

  bool is_numeric() const { return distribution != Distribution::choice; }
  bool is_integer() const;
  bool is_log() const;  // loguniform, int_log: sampled and modelled in log space
};

using Point = std::vector<double>;

struct SearchSpace {
  std::vector<Dimension> dimensions;
  std::vector<std::string> paths() const;
};

// Reads `search.space` (a mapping of path -> distribution). Each distribution is a mapping with one
// of `choice: [v, ...]` (or `choice: {label: value, ...}`), `uniform: [lo, hi]`,
// `loguniform: [lo, hi]`, `int: [lo, hi]`, `int_log: [lo, hi]`, and for numeric ones an optional
// `grid: [x, ...]` (the points of a grid search). Throws ConfigError at the offending key or value:
// an unknown distribution (with a did-you-mean), bounds that are not numbers, lo >= hi, lo <= 0 for
// log scales, non-integers for int, grid points outside the bounds, an empty space.
SearchSpace parse_search_space(const Node& space);

// Throws ConfigError at the dimension's key unless every value the search may take there (every
// choice or grid point, and the bounds) gives a valid experiment on its own when set in `tree` (the
// config, other dimensions at their values in `tree`): the path must exist or be a known key, and
// the value must be accepted by the config, the layers, the loss, the optimizer and the schedule.
// `file` is the config file (for config_from_tree). `data`: the base config's loaded data, used
// when the value leaves `data`, `cv` and `seed` alone (else the data is loaded per value).
void check_space_applies(const SearchSpace& space, const Node& tree, const std::filesystem::path& file,
                         const LoadedData* data = nullptr);

// A point's value for one dimension: a YAML node to set at its path, the text for trials.csv, the
// JSON for summaries. Numeric values are written with 9 significant digits.
Node value_node(const Dimension& dimension, double x);
std::string value_text(const Dimension& dimension, double x);
nlohmann::json value_json(const Dimension& dimension, double x);
nlohmann::json params_json(const SearchSpace& space, const Point& point);

// `tree` with the point's values set at their paths (in the space's order).
Node apply_point(const SearchSpace& space, const Point& point, Node tree);

// A point drawn uniformly (log-uniformly for log dimensions; uniformly over the choices). The
// values are rounded to what value_node writes, so the point is exactly what a trial trains.
Point sample_uniform(const SearchSpace& space, Rng& rng);
double round_to_written(const Dimension& dimension, double x);

// How bayes models a numeric dimension: on [low, high] in the log of x for log dimensions, with
// integers widened by half a step on each side so that every integer gets the same share (the
// interval sample_uniform draws from).
struct ModelBounds {
  double low, high;
};
ModelBounds model_bounds(const Dimension& dimension);
double to_model_scale(const Dimension& dimension, double x);
// The value a trial trains for the model-scale value y (rounded as round_to_written).
double from_model_scale(const Dimension& dimension, double y);

}  // namespace dlrun
