#include <doctest/doctest.h>

#include <cmath>

#include "core/errors.hpp"
#include "layers/batchnorm.hpp"
#include "layers/conv_test_support.hpp"

using namespace dlrun;
using nlohmann::json;

namespace {

std::unique_ptr<Layer> batchnorm(const json& options, const Shape& input) {
  Rng rng(1);
  return testing::build_layer("batchnorm", options, input, rng, "bn1");
}

// Non-trivial affine parameters and running statistics, so that no term of the gradient is hidden
// behind gamma = 1, beta = 0, mean = 0, var = 1.
void perturb(Layer& layer, std::uint64_t seed) {
  Rng rng(seed);
  for (Parameter& p : layer.parameters()) {
    for (float& v : p.value.values()) {
      v = p.name == "running_var" ? rng.uniform(0.5f, 2.0f) : rng.uniform(-1.0f, 1.0f) + (p.name == "weight");
    }
  }
}

}  // namespace

TEST_CASE("batchnorm: parameters are PyTorch's, buffers are not trainable") {
  auto layer = batchnorm({}, {2, 3, 4, 4});
  std::vector<std::string> names;
  for (const Parameter& p : layer->parameters()) names.push_back(p.name);
  CHECK(names == std::vector<std::string>{"weight", "bias", "running_mean", "running_var"});
  CHECK(testing::parameter(*layer, "weight").value.values()[2] == 1.0f);
  CHECK(testing::parameter(*layer, "bias").value.values()[2] == 0.0f);
  CHECK(testing::parameter(*layer, "running_var").value.values()[2] == 1.0f);
  CHECK(testing::parameter(*layer, "weight").trainable);
  CHECK_FALSE(testing::parameter(*layer, "weight").regularized);
  CHECK_FALSE(testing::parameter(*layer, "bias").regularized);
  CHECK_FALSE(testing::parameter(*layer, "running_mean").trainable);
  CHECK_FALSE(testing::parameter(*layer, "running_var").trainable);
  CHECK(testing::parameter(*layer, "running_mean").value.shape() == Shape{3});

  auto plain = batchnorm({{"affine", false}}, {2, 5});
  CHECK_FALSE(testing::has_parameter(*plain, "weight"));
  CHECK(testing::parameter(*plain, "running_mean").value.shape() == Shape{5});
  CHECK(batchnorm({}, {2, 3, 6})->output_shape({7, 3, 6}) == Shape{7, 3, 6});  // (N, T, F): F = 6
}

TEST_CASE("batchnorm: errors") {
  auto layer = batchnorm({}, {2, 3, 4, 4});
  const std::string channels = testing::error_message<ShapeError>([&] { layer->output_shape({2, 4, 4, 4}); });
  CHECK(channels.find("layer 'bn1' (batchnorm): expects 3 features/channels, got 4") != std::string::npos);
  CHECK_THROWS_AS(batchnorm({}, {2}), ShapeError);
  CHECK_THROWS_AS(layer->output_shape({2, 3, 4, 4, 1}), ShapeError);
  Tensor output;
  const std::string single = testing::error_message<ShapeError>([&] {
    batchnorm({}, {1, 3})->forward(Tensor({1, 3}), output, {Mode::train});
  });
  CHECK(single.find("more than 1 value per feature") != std::string::npos);
  CHECK(testing::error_message<ConfigError>([] {
          batchnorm({{"momentum", 1.5}}, {2, 3});
        }).find("momentum: must be in [0, 1]") != std::string::npos);
  CHECK(testing::error_message<ConfigError>([] {
          batchnorm({{"eps", 0}}, {2, 3});
        }).find("eps: must be > 0") != std::string::npos);
}

TEST_CASE("batchnorm: train mode normalises with batch statistics and updates the running ones") {
  auto layer = batchnorm({{"momentum", 0.5}}, {4, 1});
  Tensor input({4, 1});
  const float values[] = {1, 2, 3, 6};  // mean 3, biased var 3.5, unbiased var 14/3
  std::copy(std::begin(values), std::end(values), input.data());
  Tensor output;
  layer->forward(input, output, {Mode::train});
  CHECK(output[0] == doctest::Approx(-2.0 / std::sqrt(3.5 + 1e-5)));
  CHECK(output[3] == doctest::Approx(3.0 / std::sqrt(3.5 + 1e-5)));
  CHECK(testing::parameter(*layer, "running_mean").value[0] == doctest::Approx(0.5 * 0 + 0.5 * 3));
  CHECK(testing::parameter(*layer, "running_var").value[0] == doctest::Approx(0.5 * 1 + 0.5 * 14.0 / 3));
  // eval mode uses the running statistics and leaves them alone
  layer->forward(input, output, {Mode::eval});
  CHECK(output[0] == doctest::Approx((1 - 1.5) / std::sqrt(0.5 + 7.0 / 3 + 1e-5)));
  CHECK(testing::parameter(*layer, "running_mean").value[0] == doctest::Approx(1.5));
}

TEST_CASE("batchnorm: gradients match finite differences in train and eval mode") {
  struct Case {
    json options;
    Shape input;
  };
  const std::vector<Case> cases{
      {{}, {3, 2, 3, 4}},
      {{}, {6, 4}},
      {{{"affine", false}}, {5, 3}},
      {{}, {2, 3, 4}},
  };
  for (const Mode mode : {Mode::train, Mode::eval}) {
    for (const Case& c : cases) {
      CAPTURE(c.options.dump());
      CAPTURE(c.input.to_string());
      CAPTURE(mode == Mode::train);
      auto layer = batchnorm(c.options, c.input);
      perturb(*layer, 5);
      testing::GradientCheckOptions options;
      options.mode = mode;
      options.max_coordinates = 1000;
      const auto report = testing::check_layer_gradients(*layer, c.input, options);
      CHECK_MESSAGE(report.passed, report.summary());
    }
  }
}

TEST_CASE("batchnorm: forward, backward and running statistics match PyTorch") {
  const json fixture = testing::load_fixture("fixtures/conv/batchnorm.json");
  for (const json& c : fixture.at("cases")) {
    CAPTURE(c.at("name").get<std::string>());
    const Tensor input = testing::tensor_from_json(c.at("input"));
    auto layer = batchnorm(c.at("options"), input.shape());
    for (const char* name : {"weight", "bias", "running_mean", "running_var"}) {
      if (!c.contains(name)) {
        CHECK_FALSE(testing::has_parameter(*layer, name));
        continue;
      }
      testing::parameter(*layer, name).value = testing::tensor_from_json(c.at(name));
      testing::parameter(*layer, name).grad.zero();
    }
    const Mode mode = c.at("mode") == "train" ? Mode::train : Mode::eval;
    Tensor output;
    layer->forward(input, output, {mode, nullptr});
    testing::check_matches(output, c.at("output"), "output");
    Tensor grad_input;
    layer->backward(input, output, testing::tensor_from_json(c.at("grad_output")), grad_input);
    testing::check_matches(grad_input, c.at("grad_input"), "grad_input");
    testing::check_matches(testing::parameter(*layer, "running_mean").value, c.at("running_mean_after"),
                           "running_mean");
    testing::check_matches(testing::parameter(*layer, "running_var").value, c.at("running_var_after"),
                           "running_var");
    if (c.contains("grad_weight")) {
      testing::check_matches(testing::parameter(*layer, "weight").grad, c.at("grad_weight"), "grad_weight");
      testing::check_matches(testing::parameter(*layer, "bias").grad, c.at("grad_bias"), "grad_bias");
    }
  }
}

TEST_CASE("batchnorm: a fused relu equals batchnorm followed by a relu layer, train and eval") {
  for (const Shape& input_shape : {Shape{4, 3, 5, 5}, Shape{6, 7}}) {
    for (const Mode mode : {Mode::train, Mode::eval}) {
      CAPTURE(input_shape.to_string());
      CAPTURE(mode == Mode::train);
      Rng rng_a(2), rng_b(2), unused(1);
      auto fused = testing::build_layer("batchnorm", nullptr, input_shape, rng_a);
      auto plain = testing::build_layer("batchnorm", nullptr, input_shape, rng_b);
      REQUIRE(fused->fuse_activation("relu"));
      CHECK_FALSE(plain->fuse_activation("sigmoid"));
      auto relu = testing::build_layer("activation", {{"function", "relu"}}, input_shape, unused);
      // Non-trivial affine parameters and running statistics, the same in both.
      Rng values(3);
      for (auto* layer : {fused.get(), plain.get()}) {
        Rng same = values;
        for (Parameter& p : layer->parameters()) {
          for (float& v : p.value.values())
            v = p.name == "running_var" ? 0.5f + same.uniform(0, 1) : same.uniform(-1, 1);
        }
      }
      Rng data(8);
      const Tensor input = testing::random_normal(input_shape, data);
      const Tensor grad_output = testing::random_normal(input_shape, data);
      Tensor fused_out, plain_out, relu_out, fused_grad, plain_grad, relu_grad;
      fused->forward(input, fused_out, {mode, nullptr});
      plain->forward(input, plain_out, {mode, nullptr});
      relu->forward(plain_out, relu_out, {});
      CHECK(testing::max_abs_difference(fused_out, relu_out) == 0.0);
      for (auto* layer : {fused.get(), plain.get()}) {
        for (Parameter& p : layer->parameters()) p.grad.zero();
      }
      fused->backward(input, fused_out, grad_output, fused_grad);
      relu->backward(plain_out, relu_out, grad_output, relu_grad);
      plain->backward(input, plain_out, relu_grad, plain_grad);
      CHECK(testing::max_abs_difference(fused_grad, plain_grad) == 0.0);
      for (const char* name : {"weight", "bias"}) {
        CAPTURE(name);
        CHECK(testing::max_abs_difference(testing::parameter(*fused, name).grad,
                                          testing::parameter(*plain, name).grad) == 0.0);
      }
    }
  }
}
