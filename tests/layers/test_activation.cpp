#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>

#include "core/errors.hpp"
#include "core/options.hpp"
#include "layers/activation.hpp"
#include "layers/layer_test_support.hpp"
#include "layers/registry.hpp"
#include "support/fixtures.hpp"
#include "support/gradient_check.hpp"
#include "support/messages.hpp"

using namespace dlrun;
using testing::contains;
using testing::message_of;

namespace {

// Values at column 15, where the messages below expect them.
Node activation_options(const std::vector<std::pair<std::string, std::string>>& entries) {
  return testing::options_node(entries, 15);
}

std::unique_ptr<Layer> build_activation(const Node& node, const Shape& input = {1, 4}) {
  Options options(node, "layer 'act' (activation)");
  return make_builtin_layer_registry().build("activation", Location{"model.yaml", 1, 11}, options,
                                             LayerBuildContext{"act", input, nullptr});
}

// An Activation for `function` with the fixture's options (negative_slope, alpha).
std::unique_ptr<Layer> activation_from(const std::string& function, const nlohmann::json& options_json = {}) {
  std::vector<std::pair<std::string, std::string>> entries{{"function", function}};
  if (options_json.is_object()) {
    for (const auto& [key, value] : options_json.items())
      entries.emplace_back(key, std::to_string(value.get<double>()));
  }
  const Node node = activation_options(entries);
  return build_activation(node);
}

const char* const kAllFunctions[] = {"relu",    "leaky_relu", "elu",     "gelu",
                                     "sigmoid", "tanh",       "softmax", "linear"};

}  // namespace

TEST_CASE("activation: forward and backward match PyTorch for every function") {
  const auto fixture = testing::load_fixture("fixtures/layers/activations.json");
  for (const auto& c : fixture.at("cases")) {
    CAPTURE(c.at("name").get<std::string>());
    const auto layer = activation_from(c.at("function").get<std::string>(), c.at("options"));
    const Tensor input = testing::tensor_from_json(c.at("input"));
    Tensor output, grad_input;
    layer->forward(input, output, ForwardContext{});
    const Tensor expected = testing::tensor_from_json(c.at("output"));
    REQUIRE(output.shape() == expected.shape());
    CHECK(testing::max_relative_difference(output.values(), expected.values()) < 1e-5);
    layer->backward(input, output, testing::tensor_from_json(c.at("grad_output")), grad_input);
    const Tensor expected_grad = testing::tensor_from_json(c.at("grad_input"));
    REQUIRE(grad_input.shape() == expected_grad.shape());
    CHECK(testing::max_relative_difference(grad_input.values(), expected_grad.values()) < 1e-5);
  }
}

TEST_CASE("activation: gradients match finite differences for every function") {
  for (const char* function : kAllFunctions) {
    CAPTURE(function);
    const auto layer = activation_from(function);
    testing::GradientCheckOptions options;
    const std::string name = function;
    if (name == "relu" || name == "leaky_relu" || name == "elu") {
      options.kink = 0.0f;  // not differentiable at 0 (elu only for alpha != 1, kept for safety)
      options.kink_width = 1e-2f;
    }
    const auto report = testing::check_layer_gradients(*layer, {3, 2, 5}, options);
    CHECK_MESSAGE(report.passed, report.summary());
  }
  const Node slope = activation_options({{"function", "leaky_relu"}, {"negative_slope", "0.3"}});
  const auto leaky = build_activation(slope);
  testing::GradientCheckOptions kink;
  kink.kink_width = 1e-2f;
  const auto report = testing::check_layer_gradients(*leaky, {4, 6}, kink);
  CHECK_MESSAGE(report.passed, report.summary());
}

TEST_CASE("activation: softmax is stable for huge logits and normalises over the last axis only") {
  const auto softmax = activation_from("softmax");
  Tensor input({2, 2, 3});
  const float values[] = {1000.0f, 0.0f,    -1000.0f, 1.0f, 2.0f, 3.0f,
                          -500.0f, -500.0f, -500.0f,  0.0f, 0.0f, 88.0f};
  std::copy(std::begin(values), std::end(values), input.data());
  Tensor output;
  softmax->forward(input, output, ForwardContext{});
  for (Index row = 0; row < 4; ++row) {
    double sum = 0.0;
    for (Index j = 0; j < 3; ++j) {
      CHECK(std::isfinite(output[row * 3 + j]));
      sum += output[row * 3 + j];
    }
    CHECK(sum == doctest::Approx(1.0).epsilon(1e-6));
  }
  CHECK(output[0] == doctest::Approx(1.0));
  CHECK(output[6] == doctest::Approx(1.0 / 3.0));
  CHECK_THROWS_AS(softmax->output_shape({5}), ShapeError);
}

TEST_CASE("activation: large tensors (the threaded path) give the same values as small ones") {
  Rng rng(9);
  for (const char* function : {"relu", "gelu", "softmax"}) {
    CAPTURE(function);
    const auto layer = activation_from(function);
    const Tensor big = testing::random_normal({1000, 300}, rng);
    Tensor big_output, big_grad;
    layer->forward(big, big_output, ForwardContext{});
    layer->backward(big, big_output, big, big_grad);
    Tensor row({1, 300}), row_output, row_grad;
    for (const Index r : {Index{0}, Index{499}, Index{999}}) {
      std::copy_n(big.data() + r * 300, 300, row.data());
      layer->forward(row, row_output, ForwardContext{});
      layer->backward(row, row_output, row, row_grad);
      for (Index j = 0; j < 300; ++j) {
        REQUIRE(big_output[r * 300 + j] == row_output[j]);
        REQUIRE(big_grad[r * 300 + j] == row_grad[j]);
      }
    }
  }
}

TEST_CASE("activation: accessors for fusing a final softmax or sigmoid into the loss") {
  const auto softmax = activation_from("softmax");
  const auto& as_activation = dynamic_cast<const Activation&>(*softmax);
  CHECK(as_activation.is_softmax());
  CHECK_FALSE(as_activation.is_sigmoid());
  CHECK(as_activation.function() == ActivationFunction::softmax);
  CHECK(as_activation.function_name() == "softmax");
  CHECK(softmax->kind() == "activation");
  const auto sigmoid = activation_from("sigmoid");
  CHECK(dynamic_cast<const Activation&>(*sigmoid).is_sigmoid());
  const auto none = activation_from("none");
  CHECK(dynamic_cast<const Activation&>(*none).is_identity());
  CHECK(dynamic_cast<const Activation&>(*none).function_name() == "linear");
}

TEST_CASE(
    "activation: config errors name the key, suggest a spelling, and reject options that do not apply") {
  const Node typo = activation_options({{"function", "rellu"}});
  const std::string message = message_of([&] { build_activation(typo); });
  CHECK(contains(message, "model.yaml:2:15"));
  CHECK(contains(message, "unknown activation 'rellu' (did you mean 'relu'?)"));
  CHECK_THROWS_AS(build_activation(typo), ConfigError);
  const Node missing = activation_options({});
  CHECK(contains(message_of([&] { build_activation(missing); }), "activation: is required"));
  const Node both = activation_options({{"activation", "relu"}, {"function", "tanh"}});
  CHECK(contains(message_of([&] { build_activation(both); }), "not both"));
  const Node misplaced = activation_options({{"function", "relu"}, {"negative_slope", "0.1"}});
  CHECK(contains(message_of([&] { build_activation(misplaced); }), "unknown option 'negative_slope'"));
  const Node alpha = activation_options({{"function", "elu"}, {"alpha", "0.5"}});
  CHECK(dynamic_cast<const Activation&>(*build_activation(alpha)).spec().alpha == 0.5f);
  const Node softmax = activation_options({{"function", "softmax"}});
  CHECK_THROWS_AS(build_activation(softmax, {1}), ShapeError);
}

TEST_CASE("activation: {type: activation, activation: relu} (Keras's spelling) equals function: relu") {
  const Node keras = activation_options({{"activation", "leaky_relu"}, {"negative_slope", "0.3"}});
  const auto built = build_activation(keras);
  const auto& layer = dynamic_cast<const Activation&>(*built);
  CHECK(layer.function() == ActivationFunction::leaky_relu);
  CHECK(layer.spec().negative_slope == 0.3f);
  const Node typo = activation_options({{"activation", "rellu"}});
  CHECK(contains(message_of([&] { build_activation(typo); }),
                 "unknown activation 'rellu' (did you mean 'relu'?)"));
}

TEST_CASE("activation: make_activation_layer serves the `activation:` shorthand of another layer") {
  // The model builder passes the dense layer's own options, so negative_slope sits next to it.
  const Node dense =
      activation_options({{"units", "3"}, {"activation", "leaky_relu"}, {"negative_slope", "0.2"}});
  Options options(dense, "layer 'fc1' (dense)");
  (void)options.required_integer("units");
  const std::string function = options.string("activation", "linear");
  const auto layer = make_activation_layer(function, options, "fc1");
  CHECK_NOTHROW(options.finish());
  const auto& activation = dynamic_cast<const Activation&>(*layer);
  CHECK(activation.function() == ActivationFunction::leaky_relu);
  CHECK(activation.spec().negative_slope == 0.2f);

  const Node bad = activation_options({{"units", "3"}, {"activation", "sigmod"}});
  Options bad_options(bad, "layer 'fc1' (dense)");
  const std::string message = message_of([&] { make_activation_layer("sigmod", bad_options, "fc1"); });
  CHECK(contains(message, "model.yaml:3:15"));  // the `activation` value
  CHECK(contains(message, "activation: unknown activation 'sigmod' (did you mean 'sigmoid'?)"));
}
