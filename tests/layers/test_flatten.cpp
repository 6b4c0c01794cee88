#include <doctest/doctest.h>

#include "core/errors.hpp"
#include "core/options.hpp"
#include "layers/flatten.hpp"
#include "layers/registry.hpp"
#include "support/gradient_check.hpp"

using namespace dlrun;

TEST_CASE("flatten: (N, C, H, W) -> (N, C*H*W); rank 1 gives (N, 1)") {
  const Flatten flatten("flat");
  CHECK(flatten.output_shape({8, 3, 4, 5}) == Shape{8, 60});
  CHECK(flatten.output_shape({8, 7, 5}) == Shape{8, 35});
  CHECK(flatten.output_shape({8, 6}) == Shape{8, 6});
  CHECK(flatten.output_shape({8}) == Shape{8, 1});
  CHECK_THROWS_AS(flatten.output_shape(Shape{}), ShapeError);
}

TEST_CASE("flatten: keeps row-major NCHW order, as torch.flatten(x, 1)") {
  Flatten flatten("flat");
  Tensor input({2, 2, 2, 3});
  for (Index i = 0; i < input.size(); ++i) input[i] = static_cast<float>(i);
  Tensor output, grad_input;
  flatten.forward(input, output, ForwardContext{});
  REQUIRE(output.shape() == Shape{2, 12});
  // output[n, c*6 + h*3 + w] == input[n, c, h, w]
  CHECK(output[1 * 12 + 1 * 6 + 0 * 3 + 2] == static_cast<float>(((1 * 2 + 1) * 2 + 0) * 3 + 2));
  for (Index i = 0; i < output.size(); ++i) CHECK(output[i] == input[i]);
  flatten.backward(input, output, output, grad_input);
  CHECK(grad_input.shape() == input.shape());
  CHECK(testing::max_abs_difference(grad_input, input) == 0.0);
}

TEST_CASE("flatten: gradients match finite differences; the factory takes no options") {
  Flatten flatten("flat");
  const auto report = testing::check_layer_gradients(flatten, {2, 3, 2, 2});
  CHECK_MESSAGE(report.passed, report.summary());

  Node node = Node::map(Location{"model.yaml", 3, 7});
  node.set("units", Node::scalar("3"), Location{"model.yaml", 3, 22});
  Options options(node, "layer 'flat' (flatten)");
  const LayerRegistry registry = make_builtin_layer_registry();
  CHECK_THROWS_AS(
      registry.build("flatten", Location{}, options, LayerBuildContext{"flat", Shape{1, 2, 3}, nullptr}),
      ConfigError);
  const Node empty = Node::map();
  Options no_options(empty, "layer 'flat' (flatten)");
  const auto layer =
      registry.build("flatten", Location{}, no_options, LayerBuildContext{"flat", Shape{1, 2, 3}, nullptr});
  CHECK(layer->kind() == "flatten");
  CHECK(layer->output_shape({5, 2, 3}) == Shape{5, 6});
}
