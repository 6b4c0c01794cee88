#include <doctest/doctest.h>

#include "core/errors.hpp"
#include "layers/layernorm.hpp"
#include "layers/sequence_test_support.hpp"
#include "support/gradient_check.hpp"
#include "support/messages.hpp"

using namespace dlrun;
using testing::contains;
using testing::message_of;

TEST_CASE("layernorm: each row has mean 0 and variance 1 before the affine map; weight 1, bias 0 at init") {
  LayerNorm norm("ln", 6, LayerNormSpec{});
  REQUIRE(norm.parameters().size() == 2);
  CHECK(norm.parameters()[0].name == "weight");
  CHECK(norm.parameters()[1].name == "bias");
  CHECK_FALSE(norm.parameters()[0].regularized);
  CHECK(norm.parameters()[0].value[3] == 1.0f);
  CHECK(norm.parameters()[1].value[3] == 0.0f);
  Rng rng(5);
  const Tensor input = testing::random_normal({2, 3, 6}, rng, 4.0f);
  Tensor output;
  norm.forward(input, output, ForwardContext{});
  REQUIRE(output.shape() == input.shape());
  for (Index r = 0; r < 6; ++r) {
    double mean = 0.0, square = 0.0;
    for (Index f = 0; f < 6; ++f) mean += output[r * 6 + f];
    mean /= 6.0;
    for (Index f = 0; f < 6; ++f) square += (output[r * 6 + f] - mean) * (output[r * 6 + f] - mean);
    CHECK(mean == doctest::Approx(0.0).epsilon(1e-5));
    CHECK(square / 6.0 == doctest::Approx(1.0).epsilon(1e-3));  // eps = 1e-5 against variance ~16
  }
}

TEST_CASE("layernorm: forward and backward match PyTorch's nn.LayerNorm") {
  testing::check_sequence_fixture("layernorm", "fixtures/layers/layernorm.json");
}

TEST_CASE("layernorm: gradients match finite differences, with and without the affine map") {
  for (const bool affine : {true, false}) {
    CAPTURE(affine);
    LayerNorm norm("ln", 5, LayerNormSpec{.eps = 1e-5, .affine = affine});
    Rng rng(2);
    for (Parameter& p : norm.parameters()) rng.fill_normal(p.value.values(), 0.5f, 0.5f);
    const auto report = testing::check_layer_gradients(norm, {3, 4, 5});
    CHECK_MESSAGE(report.passed, report.summary());
  }
  // More rows than one block of the parameter-gradient sums.
  LayerNorm norm("ln", 3, LayerNormSpec{});
  const auto report = testing::check_layer_gradients(norm, {5, 40, 3});
  CHECK_MESSAGE(report.passed, report.summary());
}

TEST_CASE(
    "layernorm: the factory reads eps and affine; wrong shapes and options are errors naming the layer") {
  Rng rng(1);
  auto layer = testing::build_layer("layernorm", {{"eps", 1e-3}, {"affine", false}}, {1, 4, 8}, rng, "ln1");
  CHECK(layer->parameters().empty());
  CHECK(layer->output_shape({2, 4, 8}) == Shape{2, 4, 8});
  CHECK(contains(message_of([&] { (void)layer->output_shape({2, 4, 7}); }), "layer 'ln1' (layernorm)"));
  CHECK_THROWS_AS(testing::build_layer("layernorm", {{"eps", 0}}, {1, 8}, rng), ConfigError);
  CHECK_THROWS_AS(testing::build_layer("layernorm", {}, {1, 1, 8, 8}, rng), ShapeError);
  CHECK(contains(message_of([&] {
                   testing::build_layer("layernorm", {{"esp", 1}}, {1, 8}, rng);
                 }),
                 "did you mean 'eps'?"));
}
