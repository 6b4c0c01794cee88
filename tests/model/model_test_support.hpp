// Models for tests, built from the `model.layers` list of a YAML snippet exactly as a config
// file's would be (default names, locations on "model.yaml" lines from 5).
#pragma once

#include <string>
#include <vector>

#include "config/parse_config.hpp"
#include "config/yaml_loader.hpp"
#include "model/model.hpp"

namespace dlrun::testing {

// `layers_yaml` holds list items indented by 4 spaces, e.g. "    - {type: dense, units: 3}\n".
inline std::vector<LayerConfig> layers_from_yaml(const std::string& layers_yaml) {
  const std::string text = "data:\n  train: {format: csv, path: x.csv}\nmodel:\n  layers:\n" + layers_yaml;
  return config_from_tree(parse_yaml(text, "model.yaml"), "model.yaml").layers;
}

inline Model build_model(const std::string& layers_yaml, const Shape& input_shape, std::uint64_t seed = 11) {
  Rng rng(seed);
  return Model::build(layers_from_yaml(layers_yaml), input_shape, make_builtin_layer_registry(), rng);
}

}  // namespace dlrun::testing
