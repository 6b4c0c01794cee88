#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "core/blas.hpp"
#include "core/errors.hpp"
#include "core/options.hpp"
#include "core/threads.hpp"
#include "layers/dense.hpp"
#include "layers/layer_test_support.hpp"
#include "layers/registry.hpp"
#include "support/fixtures.hpp"
#include "support/gradient_check.hpp"
#include "support/messages.hpp"

using namespace dlrun;
using testing::contains;
using testing::message_of;
using testing::options_node;

namespace {

std::unique_ptr<Layer> build_dense(const Node& node, const Shape& input, const std::string& name = "fc1") {
  Options options(node, "layer '" + name + "' (dense)");
  Rng rng(7);
  return make_builtin_layer_registry().build("dense", Location{"model.yaml", 1, 11}, options,
                                             LayerBuildContext{name, input, &rng});
}

}  // namespace

TEST_CASE("dense: output shape for (N, F) and (N, T, F); errors name the layer") {
  Rng rng(1);
  const Dense dense({.units = 3, .bias = true}, 5, "fc1", rng);
  CHECK(dense.output_shape({4, 5}) == Shape{4, 3});
  CHECK(dense.output_shape({2, 7, 5}) == Shape{2, 7, 3});
  CHECK_THROWS_AS(dense.output_shape({4, 6}), ShapeError);
  const std::string wrong_features = message_of([&] { (void)dense.output_shape({4, 6}); });
  CHECK(contains(wrong_features, "'fc1'"));
  CHECK(contains(wrong_features, "5 input features"));
  const std::string rank4 = message_of([&] { (void)dense.output_shape({2, 1, 4, 5}); });
  CHECK(contains(rank4, "dense expects (N, F) or (N, T, F)"));
  CHECK(contains(rank4, "add a flatten layer before 'fc1'"));
  CHECK_THROWS_AS(dense.output_shape({5}), ShapeError);
}

TEST_CASE("dense: the factory reads units and bias and rejects bad options and 4-D inputs") {
  const Node plain = options_node({{"units", "4"}});
  const auto layer = build_dense(plain, {1, 6});
  CHECK(layer->kind() == "dense");
  CHECK(layer->output_shape({3, 6}) == Shape{3, 4});
  REQUIRE(layer->parameters().size() == 2);
  CHECK(layer->parameters()[0].name == "weight");
  CHECK(layer->parameters()[0].value.shape() == Shape{4, 6});
  CHECK(layer->parameters()[0].regularized);
  CHECK(layer->parameters()[1].name == "bias");
  CHECK(layer->parameters()[1].value.shape() == Shape{4});
  CHECK_FALSE(layer->parameters()[1].regularized);

  const Node no_bias = options_node({{"units", "2"}, {"bias", "false"}});
  CHECK(build_dense(no_bias, {1, 3, 6})->parameters().size() == 1);

  const Node zero = options_node({{"units", "0"}});
  const std::string zero_message = message_of([&] { build_dense(zero, {1, 6}); });
  CHECK(contains(zero_message, "model.yaml:2:12"));
  CHECK(contains(zero_message, "units: must be >= 1, got 0"));
  CHECK_THROWS_AS(build_dense(zero, {1, 6}), ConfigError);
  const Node missing = options_node({});
  CHECK(contains(message_of([&] { build_dense(missing, {1, 6}); }), "units: is required"));
  const Node typo = options_node({{"units", "3"}, {"bais", "false"}});
  CHECK(contains(message_of([&] { build_dense(typo, {1, 6}); }), "did you mean 'bias'?"));

  const Node image = options_node({{"units", "3"}});
  CHECK_THROWS_AS(build_dense(image, {1, 1, 28, 28}, "head"), ShapeError);
  CHECK(contains(message_of([&] {
                   build_dense(image, {1, 1, 28, 28}, "head");
                 }),
                 "add a flatten layer before 'head'"));
}

TEST_CASE("dense: PyTorch's init, U(-1/sqrt(in), 1/sqrt(in)) for weight and bias, from the given Rng") {
  Rng rng(3);
  Dense dense({.units = 64, .bias = true}, 100, "fc", rng);
  const float bound = 1.0f / std::sqrt(100.0f);
  for (Parameter& parameter : dense.parameters()) {
    CAPTURE(parameter.name);
    const auto values = parameter.value.values();
    const auto [low, high] = std::minmax_element(values.begin(), values.end());
    CHECK(*low >= -bound);
    CHECK(*high < bound);
    CHECK(parameter.grad.shape() == parameter.value.shape());
  }
  const auto weights = dense.parameters()[0].value.values();
  double mean = 0.0, mean_square = 0.0;
  for (const float w : weights) {
    mean += w;
    mean_square += static_cast<double>(w) * w;
  }
  mean /= static_cast<double>(weights.size());
  mean_square /= static_cast<double>(weights.size());
  CHECK(std::abs(mean) < 0.01);
  CHECK(mean_square == doctest::Approx(bound * bound / 3.0).epsilon(0.05));  // variance of U(-b, b)

  Rng same(3);
  Dense again({.units = 64, .bias = true}, 100, "fc", same);
  CHECK(testing::max_abs_difference(again.parameters()[0].value, dense.parameters()[0].value) == 0.0);
}

TEST_CASE("dense: forward and backward match PyTorch's nn.Linear") {
  const auto fixture = testing::load_fixture("fixtures/layers/dense.json");
  for (const auto& c : fixture.at("cases")) {
    CAPTURE(c.at("name").get<std::string>());
    const Tensor input = testing::tensor_from_json(c.at("input"));
    const Tensor weight = testing::tensor_from_json(c.at("weight"));
    const bool bias = c.at("bias").get<bool>();
    Rng rng(1);
    Dense dense({.units = c.at("units").get<Index>(), .bias = bias}, weight.shape()[1], "fc", rng);
    dense.parameters()[0].value = weight;
    if (bias) dense.parameters()[1].value = testing::tensor_from_json(c.at("bias_value"));
    for (Parameter& parameter : dense.parameters()) parameter.grad.zero();

    Tensor output, grad_input;
    dense.forward(input, output, ForwardContext{});
    const Tensor expected = testing::tensor_from_json(c.at("output"));
    REQUIRE(output.shape() == expected.shape());
    CHECK(testing::max_relative_difference(output.values(), expected.values()) < 1e-5);

    dense.backward(input, output, testing::tensor_from_json(c.at("grad_output")), grad_input);
    const Tensor expected_grad_input = testing::tensor_from_json(c.at("grad_input"));
    REQUIRE(grad_input.shape() == expected_grad_input.shape());
    CHECK(testing::max_relative_difference(grad_input.values(), expected_grad_input.values()) < 1e-5);
    const Tensor grad_weight = testing::tensor_from_json(c.at("grad_weight"));
    CHECK(testing::max_relative_difference(dense.parameters()[0].grad.values(), grad_weight.values()) < 1e-5);
    if (bias) {
      const Tensor grad_bias = testing::tensor_from_json(c.at("grad_bias"));
      CHECK(testing::max_relative_difference(dense.parameters()[1].grad.values(), grad_bias.values()) < 1e-5);
    }
  }
}

TEST_CASE("dense: gradients match finite differences, with and without bias, (N, F) and (N, T, F)") {
  struct Case {
    Shape input;
    bool bias;
  };
  for (const Case& c : {Case{{4, 5}, true}, Case{{3, 6}, false}, Case{{2, 3, 4}, true}}) {
    CAPTURE(c.input.to_string());
    CAPTURE(c.bias);
    Rng rng(11);
    Dense dense({.units = 3, .bias = c.bias}, c.input[c.input.rank() - 1], "fc", rng);
    const auto report = testing::check_layer_gradients(dense, c.input);
    CHECK_MESSAGE(report.passed, report.summary());
  }
}

TEST_CASE("dense: a sequence input is the same as applying the layer at every step") {
  Rng rng(5);
  Dense dense({.units = 4, .bias = true}, 3, "fc", rng);
  const Tensor sequence = testing::random_normal({2, 5, 3}, rng);
  Tensor output;
  dense.forward(sequence, output, ForwardContext{});
  Tensor step({1, 3}), step_output;
  for (Index n = 0; n < 2; ++n) {
    for (Index t = 0; t < 5; ++t) {
      std::copy_n(sequence.data() + (n * 5 + t) * 3, 3, step.data());
      dense.forward(step, step_output, ForwardContext{});
      for (Index j = 0; j < 4; ++j) CHECK(output[(n * 5 + t) * 4 + j] == doctest::Approx(step_output[j]));
    }
  }
}

TEST_CASE("dense: FLOPs per example count 2 per multiply-add plus the bias") {
  Rng rng(1);
  const Dense dense({.units = 10, .bias = true}, 20, "fc", rng);
  CHECK(dense.flops_per_example({1, 20}) == 2.0 * 20 * 10 + 10);
  CHECK(dense.flops_per_example({1, 7, 20}) == 7 * (2.0 * 20 * 10 + 10));
  const Dense no_bias({.units = 10, .bias = false}, 20, "fc", rng);
  CHECK(no_bias.flops_per_example({1, 20}) == 2.0 * 20 * 10);
}

TEST_CASE("dense: the builtin registry lists the layers of this module") {
  const LayerRegistry registry = make_builtin_layer_registry();
  for (const char* type : {"activation", "dense", "dropout", "flatten"}) {
    CAPTURE(type);
    CHECK(registry.contains(type));
  }
}

TEST_CASE("dense: without an input gradient, parameter gradients are unchanged") {
  const Shape input_shape{5, 4};
  auto with_input_grad = build_dense(options_node({{"units", "3"}}), input_shape);
  auto without = build_dense(options_node({{"units", "3"}}), input_shape);
  without->set_input_grad_needed(false);
  Rng rng(3);
  const Tensor input = testing::random_normal(input_shape, rng);
  const Tensor grad_output = testing::random_normal({5, 3}, rng);
  Tensor output, grad_a, grad_b;
  with_input_grad->forward(input, output, {});
  without->forward(input, output, {});
  for (Layer* layer : {with_input_grad.get(), without.get()}) {
    for (Parameter& p : layer->parameters()) p.grad.zero();
  }
  with_input_grad->backward(input, output, grad_output, grad_a);
  without->backward(input, output, grad_output, grad_b);
  CHECK(grad_b.shape() == input_shape);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(testing::max_abs_difference(with_input_grad->parameters()[i].grad, without->parameters()[i].grad) ==
          0.0);
  }
}

TEST_CASE("dense: a large backward pass, its two GEMMs side by side on two threads, gives gemm()'s bits") {
  // 64 x 300 x 128 multiply-adds per product, above 2^21: on two threads the weight and input
  // gradients run concurrently (dense.cpp), each gemm() on a worker. They must equal the same
  // gemm() calls made one after the other from the caller.
  const int previous = thread_count();
  set_thread_count(2);
  const Index rows = 64, in = 300, out = 128;
  auto layer = build_dense(options_node({{"units", "128"}}), {rows, in});
  Rng rng(5);
  const Tensor input = testing::random_normal({rows, in}, rng);
  const Tensor grad_output = testing::random_normal({rows, out}, rng);
  Tensor output, grad_input;
  for (Parameter& p : layer->parameters()) p.grad.zero();
  layer->forward(input, output, {});
  layer->backward(input, output, grad_output, grad_input);

  Tensor grad_weight({out, in});
  Tensor expected_input({rows, in});
  gemm(Transpose::yes, Transpose::no, out, in, rows, 1.0f, grad_output.values(), input.values(), 1.0f,
       grad_weight.values());
  gemm(Transpose::no, Transpose::no, rows, in, out, 1.0f, grad_output.values(),
       layer->parameters()[0].value.values(), 0.0f, expected_input.values());
  set_thread_count(previous);
  CHECK(testing::max_abs_difference(layer->parameters()[0].grad, grad_weight) == 0.0);
  CHECK(testing::max_abs_difference(grad_input, expected_input) == 0.0);
}
