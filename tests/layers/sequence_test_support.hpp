// Shared by the sequence-layer tests (embedding, layernorm, attention, transformer_block, ...):
// runs a case of a fixture written by scripts/fixtures/sequence_layers.py against a layer.
#pragma once

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "layers/conv_test_support.hpp"

namespace dlrun::testing {

// Loads the case's parameters into `layer` by name (every parameter of the layer must be in the
// fixture, and the other way round), runs forward and backward in eval mode and checks the output,
// the input gradient (when the case has one) and every parameter gradient against PyTorch's.
inline void check_sequence_case(Layer& layer, const nlohmann::json& c, double tolerance = 1e-4) {
  CAPTURE(c.at("name").get<std::string>());
  const auto& parameters = c.at("parameters");
  REQUIRE(layer.parameters().size() == parameters.size());
  for (Parameter& p : layer.parameters()) {
    CAPTURE(p.name);
    REQUIRE(parameters.contains(p.name));
    const Tensor value = tensor_from_json(parameters.at(p.name));
    REQUIRE(value.shape() == p.value.shape());
    p.value = value;
    p.grad.zero();
  }
  const Tensor input = tensor_from_json(c.at("input"));
  Tensor output, grad_input;
  layer.forward(input, output, ForwardContext{});
  check_matches(output, c.at("output"), "output", tolerance);
  layer.backward(input, output, tensor_from_json(c.at("grad_output")), grad_input);
  CHECK(grad_input.shape() == input.shape());
  if (c.contains("grad_input")) check_matches(grad_input, c.at("grad_input"), "grad_input", tolerance);
  for (Parameter& p : layer.parameters()) {
    check_matches(p.grad, c.at("grads").at(p.name), "grad of " + p.name, tolerance);
  }
}

// Every case of the fixture tests/data/<fixture_path>: a `type` layer built from the case's options
// (parameters drawn from Rng(1), then replaced by the fixture's), checked by check_sequence_case.
inline void check_sequence_fixture(const std::string& type, const std::string& fixture_path) {
  const auto fixture = load_fixture(fixture_path);
  for (const auto& c : fixture.at("cases")) {
    const Tensor input = tensor_from_json(c.at("input"));
    Rng rng(1);
    auto layer = build_layer(type, c.at("options"), input.shape(), rng);
    check_sequence_case(*layer, c);
  }
}

}  // namespace dlrun::testing
