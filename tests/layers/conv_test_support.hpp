// Helpers shared by the conv2d, pooling and batchnorm tests: build a layer through its factory from
// JSON-like options (as the config loader would give them) and compare tensors with fixtures.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/node.hpp"
#include "core/options.hpp"
#include "layers/registry.hpp"
#include "support/fixtures.hpp"
#include "support/gradient_check.hpp"

namespace dlrun::testing {

// A config Node tree from JSON scalars, lists and objects (the YAML loader is written elsewhere).
inline Node node_from_json(const nlohmann::json& value) {
  if (value.is_object()) {
    Node map = Node::map({"test.yaml", 1, 1});
    int line = 1;
    for (const auto& [key, item] : value.items()) {
      Node child = node_from_json(item);
      child.set_where({"test.yaml", ++line, 5});
      map.set(key, std::move(child), {"test.yaml", line, 1});
    }
    return map;
  }
  if (value.is_array()) {
    Node sequence = Node::sequence();
    for (const auto& item : value) sequence.push_back(node_from_json(item));
    return sequence;
  }
  if (value.is_string()) return Node::scalar(value.get<std::string>());
  if (value.is_boolean()) return Node::scalar(value.get<bool>() ? "true" : "false");
  return Node::scalar(value.dump());
}

// Builds `type` through the builtin registry (so unknown options are rejected, as in a real config).
inline std::unique_ptr<Layer> build_layer(const std::string& type, const nlohmann::json& options,
                                          const Shape& input_shape, Rng& rng,
                                          const std::string& name = "test") {
  static const LayerRegistry registry = make_builtin_layer_registry();
  const Node node = node_from_json(options.is_null() ? nlohmann::json::object() : options);
  Options reader(node, "layer '" + name + "' (" + type + ")");
  return registry.build(type, {"test.yaml", 1, 1}, reader, LayerBuildContext{name, input_shape, &rng});
}

inline Parameter& parameter(Layer& layer, const std::string& name) {
  for (Parameter& p : layer.parameters()) {
    if (p.name == name) return p;
  }
  FAIL("layer has no parameter " << name);
  throw std::logic_error("unreachable");
}

inline bool has_parameter(Layer& layer, const std::string& name) {
  for (const Parameter& p : layer.parameters()) {
    if (p.name == name) return true;
  }
  return false;
}

// Checks `actual` against the fixture tensor `expected` (shape and values, relative 1e-4 with a
// floor of 1 on the scale).
inline void check_matches(const Tensor& actual, const nlohmann::json& expected, const std::string& what,
                          double tolerance = 1e-4) {
  const Tensor reference = tensor_from_json(expected);
  CAPTURE(what);
  REQUIRE(actual.shape() == reference.shape());
  CHECK(max_relative_difference(actual.values(), reference.values()) < tolerance);
}

// The message of the exception `body` throws as `Error`, or "" when it throws nothing.
template <class Error, class Body>
std::string error_message(Body&& body) {
  try {
    body();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

}  // namespace dlrun::testing
