#include <doctest/doctest.h>

#include <cmath>

#include "core/errors.hpp"
#include "core/threads.hpp"
#include "layers/conv2d.hpp"
#include "layers/conv_test_support.hpp"

using namespace dlrun;
using nlohmann::json;

namespace {

struct DirectSpec {
  Index stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1, groups = 1;
};

// The textbook 7-loop convolution (PyTorch's cross-correlation), in double, for an output of the
// size the layer reports (so 'same' padding's extra bottom/right row is just more zeros).
Tensor conv2d_direct(const Tensor& x, const Tensor& weight, const Tensor* bias, const DirectSpec& s,
                     const Shape& output_shape) {
  const Index batch = x.shape()[0], channels = x.shape()[1], height = x.shape()[2], width = x.shape()[3];
  const Index filters = weight.shape()[0], group_channels = weight.shape()[1];
  const Index kernel_h = weight.shape()[2], kernel_w = weight.shape()[3];
  const Index out_h = output_shape[2], out_w = output_shape[3];
  Tensor y(output_shape);
  for (Index n = 0; n < batch; ++n) {
    for (Index f = 0; f < filters; ++f) {
      const Index group = f / (filters / s.groups);
      for (Index oh = 0; oh < out_h; ++oh) {
        for (Index ow = 0; ow < out_w; ++ow) {
          double sum = bias ? (*bias)[f] : 0.0;
          for (Index c = 0; c < group_channels; ++c) {
            for (Index i = 0; i < kernel_h; ++i) {
              for (Index j = 0; j < kernel_w; ++j) {
                const Index h = oh * s.stride_h - s.pad_h + i * s.dilation_h;
                const Index w = ow * s.stride_w - s.pad_w + j * s.dilation_w;
                if (h < 0 || h >= height || w < 0 || w >= width) continue;
                const Index channel = group * group_channels + c;
                sum += static_cast<double>(x[((n * channels + channel) * height + h) * width + w]) *
                       weight[((f * group_channels + c) * kernel_h + i) * kernel_w + j];
              }
            }
          }
          y[((n * filters + f) * out_h + oh) * out_w + ow] = static_cast<float>(sum);
        }
      }
    }
  }
  return y;
}

std::unique_ptr<Layer> conv(const json& options, const Shape& input, std::uint64_t seed = 1) {
  Rng rng(seed);
  return testing::build_layer("conv2d", options, input, rng, "conv1");
}

}  // namespace

TEST_CASE("conv2d: output shapes") {
  CHECK(conv({{"filters", 32}, {"kernel", 3}}, {64, 1, 28, 28})->output_shape({64, 1, 28, 28}) ==
        Shape{64, 32, 26, 26});
  CHECK(conv({{"filters", 6}, {"kernel", 5}, {"padding", 2}}, {1, 1, 28, 28})->output_shape({8, 1, 28, 28}) ==
        Shape{8, 6, 28, 28});
  CHECK(conv({{"filters", 4}, {"kernel", 3}, {"stride", 2}, {"padding", 1}}, {1, 3, 7, 8})
            ->output_shape({2, 3, 7, 8}) == Shape{2, 4, 4, 4});
  CHECK(conv({{"filters", 2}, {"kernel", json::array({2, 4})}, {"padding", "same"}}, {1, 3, 5, 6})
            ->output_shape({2, 3, 5, 6}) == Shape{2, 2, 5, 6});
  CHECK(conv({{"filters", 2}, {"kernel", 3}, {"dilation", 2}}, {1, 3, 9, 8})->output_shape({1, 3, 9, 8}) ==
        Shape{1, 2, 5, 4});
  CHECK(conv({{"filters", 4},
              {"kernel", json::array({1, 3})},
              {"stride", json::array({1, 2})},
              {"padding", json::array({0, 1})}},
             {1, 2, 5, 5})
            ->output_shape({3, 2, 5, 5}) == Shape{3, 4, 5, 3});
}

TEST_CASE("conv2d: parameters have PyTorch's names, shapes and default init range") {
  auto layer = conv({{"filters", 8}, {"kernel", 3}, {"groups", 2}}, {1, 4, 6, 6});
  Parameter& weight = testing::parameter(*layer, "weight");
  Parameter& bias = testing::parameter(*layer, "bias");
  CHECK(weight.value.shape() == Shape{8, 2, 3, 3});
  CHECK(bias.value.shape() == Shape{8});
  CHECK(weight.regularized);
  CHECK_FALSE(bias.regularized);
  const float bound = 1.0f / std::sqrt(2.0f * 9.0f);  // fan_in = in/groups * kh * kw
  float largest = 0.0f;
  for (const float v : weight.value.values()) largest = std::max(largest, std::abs(v));
  for (const float v : bias.value.values()) largest = std::max(largest, std::abs(v));
  CHECK(largest <= bound);
  CHECK(largest > 0.7f * bound);  // spread over the range, not all zero
  CHECK_FALSE(
      testing::has_parameter(*conv({{"filters", 2}, {"kernel", 3}, {"bias", false}}, {1, 1, 5, 5}), "bias"));
  CHECK(layer->flops_per_example({1, 4, 6, 6}) == 2.0 * 8 * 2 * 9 * 16);
}

TEST_CASE("conv2d: shape errors name the layer") {
  auto layer = conv({{"filters", 4}, {"kernel", 3}}, {1, 3, 8, 8});
  const std::string wrong_channels = testing::error_message<ShapeError>([&] {
    layer->output_shape({2, 5, 8, 8});
  });
  CHECK(wrong_channels.find("layer 'conv1' (conv2d)") != std::string::npos);
  CHECK(wrong_channels.find("3 input channels, got 5") != std::string::npos);
  const std::string wrong_rank = testing::error_message<ShapeError>([&] { layer->output_shape({2, 192}); });
  CHECK(wrong_rank.find("layer 'conv1' (conv2d): expects input (N, C, H, W)") != std::string::npos);
  const std::string too_small = testing::error_message<ShapeError>([&] {
    layer->output_shape({2, 3, 2, 8});
  });
  CHECK(too_small.find("layer 'conv1' (conv2d): kernel 3x3") != std::string::npos);
  // and at build time, through the factory
  CHECK_THROWS_AS(conv({{"filters", 4}, {"kernel", 5}}, {1, 3, 4, 4}), ShapeError);
  CHECK_THROWS_AS(conv({{"filters", 4}, {"kernel", 3}}, {1, 48}), ShapeError);
  Tensor output;
  CHECK_THROWS_AS(layer->forward(Tensor({1, 2, 8, 8}), output, {}), ShapeError);
}

TEST_CASE("conv2d: config errors point at the key") {
  const Shape input{1, 4, 8, 8};
  auto config_error = [&](const json& options) {
    return testing::error_message<ConfigError>([&] { conv(options, input); });
  };
  CHECK(config_error({{"kernel", 3}}).find("filters: is required") != std::string::npos);
  CHECK(config_error({{"filters", 0}, {"kernel", 3}}).find("filters: must be >= 1, got 0") !=
        std::string::npos);
  CHECK(config_error({{"filters", 2}}).find("kernel: is required") != std::string::npos);
  CHECK(config_error({{"filters", 2}, {"kernel", 0}}).find("kernel: must be >= 1") != std::string::npos);
  CHECK(config_error({{"filters", 2}, {"kernel", json::array({1, 2, 3})}}).find("kernel: expected") !=
        std::string::npos);
  CHECK(config_error({{"filters", 2}, {"kernel", 3}, {"stride", 0}}).find("stride: must be >= 1") !=
        std::string::npos);
  CHECK(config_error({{"filters", 2}, {"kernel", 3}, {"padding", -1}}).find("padding: must be >= 0") !=
        std::string::npos);
  const std::string typo = config_error({{"filters", 2}, {"kernel", 3}, {"padding", "sme"}});
  CHECK(typo.find("padding: unknown value 'sme' (did you mean 'same'?)") != std::string::npos);
  CHECK(config_error({{"filters", 2}, {"kernel", 3}, {"padding", "same"}, {"stride", 2}})
            .find("padding: 'same' needs stride 1") != std::string::npos);
  CHECK(config_error({{"filters", 2}, {"kernel", 3}, {"groups", 3}}).find("groups: must divide") !=
        std::string::npos);
  CHECK(config_error({{"filters", 3}, {"kernel", 3}, {"groups", 2}}).find("groups: must divide") !=
        std::string::npos);
  const std::string unknown = config_error({{"filters", 2}, {"kernel", 3}, {"strides", 2}});
  CHECK(unknown.find("unknown option 'strides' (did you mean 'stride'?)") != std::string::npos);
  CHECK(unknown.find("test.yaml:") == 0);  // file:line:col first
}

TEST_CASE("conv2d: forward matches a direct 7-loop convolution") {
  struct Case {
    json options;
    Shape input;
    DirectSpec direct;
  };
  const std::vector<Case> cases{
      {{{"filters", 4}, {"kernel", 3}}, {2, 3, 6, 5}, {}},
      // 12 filters over K = 27: OpenBLAS rather than the small-K kernels (core/small_k_gemm.hpp)
      {{{"filters", 12}, {"kernel", 3}, {"padding", 1}}, {2, 3, 6, 5}, {1, 1, 1, 1}},
      {{{"filters", 3}, {"kernel", 3}, {"stride", 2}, {"padding", 1}}, {2, 2, 7, 6}, {2, 2, 1, 1}},
      {{{"filters", 2}, {"kernel", json::array({2, 4})}, {"padding", "same"}}, {2, 2, 5, 6}, {1, 1, 0, 1}},
      {{{"filters", 3}, {"kernel", 3}, {"dilation", json::array({2, 1})}, {"padding", json::array({2, 1})}},
       {1, 2, 6, 7},
       {1, 1, 2, 1, 2, 1}},
      {{{"filters", 6}, {"kernel", 3}, {"groups", 3}, {"padding", 1}}, {2, 3, 5, 4}, {1, 1, 1, 1, 1, 1, 3}},
      {{{"filters", 2}, {"kernel", json::array({3, 2})}, {"stride", json::array({1, 3})}, {"bias", false}},
       {3, 1, 5, 8},
       {1, 3}},
  };
  Rng rng(9);
  for (const Case& c : cases) {
    CAPTURE(c.options.dump());
    auto layer = conv(c.options, c.input);
    const Tensor input = testing::random_normal(c.input, rng);
    Tensor output(Shape{1}, 5.0f);
    layer->forward(input, output, {});
    const Tensor* bias =
        testing::has_parameter(*layer, "bias") ? &testing::parameter(*layer, "bias").value : nullptr;
    const Tensor expected = conv2d_direct(input, testing::parameter(*layer, "weight").value, bias, c.direct,
                                          layer->output_shape(c.input));
    REQUIRE(output.shape() == expected.shape());
    CHECK(testing::max_abs_difference(output, expected) < 1e-5);
  }
}

TEST_CASE("conv2d: gradients match finite differences") {
  const std::vector<std::pair<json, Shape>> cases{
      {{{"filters", 3}, {"kernel", 3}}, {2, 2, 5, 6}},
      {{{"filters", 10}, {"kernel", 3}, {"padding", 1}}, {2, 2, 4, 4}},  // OpenBLAS, not small-K
      {{{"filters", 3}, {"kernel", 3}, {"stride", 2}, {"padding", 1}}, {2, 2, 7, 6}},
      {{{"filters", 2}, {"kernel", 2}, {"padding", "same"}}, {2, 2, 4, 5}},
      {{{"filters", 2}, {"kernel", 3}, {"dilation", 2}, {"padding", 1}}, {2, 2, 7, 6}},
      {{{"filters", 4}, {"kernel", 3}, {"groups", 2}, {"padding", 1}}, {2, 4, 4, 4}},
      {{{"filters", 3}, {"kernel", json::array({1, 3})}, {"stride", json::array({2, 1})}, {"bias", false}},
       {3, 2, 5, 5}},
  };
  for (const auto& [options, input] : cases) {
    CAPTURE(options.dump());
    auto layer = conv(options, input, 4);
    const auto report = testing::check_layer_gradients(*layer, input);
    CHECK_MESSAGE(report.passed, report.summary());
  }
}

TEST_CASE("conv2d: results do not depend on the thread count or on how samples are blocked") {
  // 3x3 on 5x6 has 12 output positions (samples are blocked several per GEMM); on 24x24, 484
  // (one sample per GEMM).
  const int saved_threads = thread_count();
  for (const Shape& input_shape : {Shape{7, 3, 5, 6}, Shape{7, 2, 24, 24}}) {
    CAPTURE(input_shape.to_string());
    auto layer = conv({{"filters", 4}, {"kernel", 3}, {"groups", 1}}, input_shape, 8);
    Rng rng(10);
    const Tensor input = testing::random_normal(input_shape, rng);
    const Tensor grad_output = testing::random_normal(layer->output_shape(input_shape), rng);
    std::vector<Tensor> results;
    for (const int threads : {1, 2, 3}) {
      set_thread_count(threads);
      for (Parameter& p : layer->parameters()) p.grad.zero();
      Tensor output, grad_input;
      layer->forward(input, output, {});
      layer->backward(input, output, grad_output, grad_input);
      results.push_back(output);
      results.push_back(grad_input);
      results.push_back(testing::parameter(*layer, "weight").grad);
      results.push_back(testing::parameter(*layer, "bias").grad);
    }
    for (std::size_t i = 4; i < results.size(); ++i) {
      CAPTURE(i);
      CHECK(testing::max_relative_difference(results[i].values(), results[i % 4].values()) < 1e-5);
    }
  }
  set_thread_count(saved_threads);
}

TEST_CASE("conv2d: a batch gives the per-sample results, and grad_weight sums over samples") {
  const Shape input_shape{5, 3, 9, 8};
  auto layer = conv({{"filters", 2}, {"kernel", 3}, {"padding", 1}, {"stride", 2}}, input_shape, 8);
  Rng rng(10);
  const Tensor input = testing::random_normal(input_shape, rng);
  Tensor output;
  layer->forward(input, output, {});
  const Tensor grad_output = testing::random_normal(output.shape(), rng);
  Tensor grad_input;
  Parameter& weight = testing::parameter(*layer, "weight");
  weight.grad.zero();
  layer->backward(input, output, grad_output, grad_input);
  const Tensor batch_grad_weight = weight.grad;

  weight.grad.zero();
  for (Index n = 0; n < input_shape[0]; ++n) {
    CAPTURE(n);
    Tensor one({1, 3, 9, 8});
    std::copy_n(input.data() + n * one.size(), one.size(), one.data());
    Tensor one_grad_output({1, 2, 5, 4});
    std::copy_n(grad_output.data() + n * one_grad_output.size(), one_grad_output.size(),
                one_grad_output.data());
    Tensor one_output, one_grad_input;
    layer->forward(one, one_output, {});
    CHECK(testing::max_relative_difference(one_output.values(), sample(output, n)) < 1e-5);
    layer->backward(one, one_output, one_grad_output, one_grad_input);
    CHECK(testing::max_relative_difference(one_grad_input.values(), sample(grad_input, n)) < 1e-5);
  }
  CHECK(testing::max_relative_difference(weight.grad.values(), batch_grad_weight.values()) < 1e-5);
}

TEST_CASE("conv2d: without an input gradient, parameter gradients are unchanged") {
  const Shape input_shape{4, 2, 7, 7};
  auto layer = conv({{"filters", 3}, {"kernel", 3}, {"groups", 1}}, input_shape, 8);
  Rng rng(11);
  const Tensor input = testing::random_normal(input_shape, rng);
  Tensor output;
  layer->forward(input, output, {});
  const Tensor grad_output = testing::random_normal(output.shape(), rng);
  Tensor grad_input;
  for (Parameter& p : layer->parameters()) p.grad.zero();
  layer->backward(input, output, grad_output, grad_input);
  const Tensor weight_grad = testing::parameter(*layer, "weight").grad;
  const Tensor bias_grad = testing::parameter(*layer, "bias").grad;

  layer->set_input_grad_needed(false);
  for (Parameter& p : layer->parameters()) p.grad.zero();
  Tensor skipped;
  layer->backward(input, output, grad_output, skipped);
  CHECK(skipped.shape() == input_shape);
  CHECK(testing::max_abs_difference(testing::parameter(*layer, "weight").grad, weight_grad) == 0.0);
  CHECK(testing::max_abs_difference(testing::parameter(*layer, "bias").grad, bias_grad) == 0.0);
}

TEST_CASE("conv2d: forward and backward match PyTorch") {
  const json fixture = testing::load_fixture("fixtures/conv/conv2d.json");
  for (const json& c : fixture.at("cases")) {
    CAPTURE(c.at("name").get<std::string>());
    const Tensor input = testing::tensor_from_json(c.at("input"));
    auto layer = conv(c.at("options"), input.shape());
    Parameter& weight = testing::parameter(*layer, "weight");
    weight.value = testing::tensor_from_json(c.at("weight"));
    weight.grad.zero();
    if (c.contains("bias")) {
      testing::parameter(*layer, "bias").value = testing::tensor_from_json(c.at("bias"));
      testing::parameter(*layer, "bias").grad.zero();
    } else {
      CHECK_FALSE(testing::has_parameter(*layer, "bias"));
    }
    Tensor output;
    layer->forward(input, output, {Mode::train, nullptr});
    testing::check_matches(output, c.at("output"), "output");
    Tensor grad_input;
    layer->backward(input, output, testing::tensor_from_json(c.at("grad_output")), grad_input);
    testing::check_matches(grad_input, c.at("grad_input"), "grad_input");
    testing::check_matches(weight.grad, c.at("grad_weight"), "grad_weight");
    if (c.contains("grad_bias")) {
      testing::check_matches(testing::parameter(*layer, "bias").grad, c.at("grad_bias"), "grad_bias");
    }
  }
}

TEST_CASE("conv2d: a fused relu equals conv2d followed by a relu layer, forward and backward") {
  for (const Index threads : {1, 2}) {
    CAPTURE(threads);
    set_thread_count(static_cast<int>(threads));
    const json options{{"filters", 5}, {"kernel", 3}, {"padding", 1}};
    const Shape input_shape{3, 2, 6, 5};
    Rng rng_a(4), rng_b(4);
    auto fused = testing::build_layer("conv2d", options, input_shape, rng_a);
    auto plain = testing::build_layer("conv2d", options, input_shape, rng_b);
    REQUIRE(fused->fuse_activation("relu"));
    CHECK_FALSE(plain->fuse_activation("tanh"));  // only relu is fused; the plain layer stays plain
    Rng act_rng(1);
    auto relu =
        testing::build_layer("activation", {{"function", "relu"}}, fused->output_shape(input_shape), act_rng);

    Rng data(8);
    const Tensor input = testing::random_normal(input_shape, data);
    const Tensor grad_output = testing::random_normal(fused->output_shape(input_shape), data);
    Tensor fused_out, plain_out, relu_out, fused_grad_in, plain_grad_in, relu_grad_in;
    fused->forward(input, fused_out, {});
    plain->forward(input, plain_out, {});
    relu->forward(plain_out, relu_out, {});
    CHECK(testing::max_abs_difference(fused_out, relu_out) == 0.0);

    for (Parameter& p : fused->parameters()) p.grad.zero();
    for (Parameter& p : plain->parameters()) p.grad.zero();
    fused->backward(input, fused_out, grad_output, fused_grad_in);
    relu->backward(plain_out, relu_out, grad_output, relu_grad_in);
    plain->backward(input, plain_out, relu_grad_in, plain_grad_in);
    CHECK(testing::max_abs_difference(fused_grad_in, plain_grad_in) < 1e-6);
    for (const char* name : {"weight", "bias"}) {
      CAPTURE(name);
      CHECK(testing::max_abs_difference(testing::parameter(*fused, name).grad,
                                        testing::parameter(*plain, name).grad) < 1e-5);
    }
  }
  set_thread_count(0);
}

// conv2d [+ relu] + maxpool2d [+ flatten] run by the conv layer (Layer::fuse_next) must give exactly
// what the separate layers give: the same pooling kernel picks the same argmax, and the gradient
// reaches the same positions with the same sums (overlapping windows included).
TEST_CASE("conv2d: a fused maxpool2d and flatten equal the separate layers, forward and backward") {
  struct Case {
    bool relu;
    json pool;
    bool flatten;
    Shape input;
    Index filters = 4;
  };
  const std::vector<Case> cases{
      {true, {{"pool", 2}}, true, {5, 2, 9, 8}},                                  // seed CNN, odd height
      {false, {{"pool", 2}}, false, {3, 2, 8, 8}},                                // no relu
      {true, {{"pool", 3}, {"stride", 2}, {"padding", 1}}, false, {4, 3, 9, 7}},  // overlapping, padded
      {true, {{"pool", {2, 3}}, {"stride", 1}}, true, {2, 1, 6, 6}},              // stride 1
      {true, {{"pool", 2}}, true, {3, 2, 8, 8}, 12},  // 12 filters, K = 18: OpenBLAS, not small-K
  };
  for (const Index threads : {1, 2}) {
    set_thread_count(static_cast<int>(threads));
    for (std::size_t i = 0; i < cases.size(); ++i) {
      const Case& c = cases[i];
      CAPTURE(threads);
      CAPTURE(i);
      const json options{{"filters", c.filters}, {"kernel", 3}, {"padding", 1}};
      Rng rng_a(6), rng_b(6), unused(1);
      auto fused = testing::build_layer("conv2d", options, c.input, rng_a);
      auto conv_layer = testing::build_layer("conv2d", options, c.input, rng_b);
      const Shape conv_shape = conv_layer->output_shape(c.input);
      auto relu = testing::build_layer("activation", {{"function", "relu"}}, conv_shape, unused);
      auto pool = testing::build_layer("maxpool2d", c.pool, conv_shape, unused);
      const Shape pool_shape = pool->output_shape(conv_shape);
      auto flatten = testing::build_layer("flatten", nullptr, pool_shape, unused);
      if (c.relu) REQUIRE(fused->fuse_activation("relu"));
      REQUIRE(fused->fuse_next(*pool));
      CHECK_FALSE(fused->fuse_next(*pool));  // one pool
      if (c.flatten) REQUIRE(fused->fuse_next(*flatten));

      // Separate layers: conv -> [relu] -> pool -> [flatten].
      std::vector<Layer*> chain{conv_layer.get()};
      if (c.relu) chain.push_back(relu.get());
      chain.push_back(pool.get());
      if (c.flatten) chain.push_back(flatten.get());
      Rng data(9);
      const Tensor input = testing::random_normal(c.input, data);
      std::vector<Tensor> outputs(chain.size());
      const Tensor* current = &input;
      for (std::size_t k = 0; k < chain.size(); ++k) {
        chain[k]->forward(*current, outputs[k], {});
        current = &outputs[k];
      }
      Tensor fused_out;
      fused->forward(input, fused_out, {});
      REQUIRE(fused_out.shape() == outputs.back().shape());
      CHECK(testing::max_abs_difference(fused_out, outputs.back()) == 0.0);

      const Tensor grad_output = testing::random_normal(fused_out.shape(), data);
      for (Parameter& p : fused->parameters()) p.grad.zero();
      for (Parameter& p : conv_layer->parameters()) p.grad.zero();
      Tensor fused_grad_in;
      fused->backward(input, fused_out, grad_output, fused_grad_in);
      std::vector<Tensor> grads(chain.size());
      const Tensor* grad = &grad_output;
      for (std::size_t k = chain.size(); k-- > 0;) {
        chain[k]->backward(k == 0 ? input : outputs[k - 1], outputs[k], *grad, grads[k]);
        grad = &grads[k];
      }
      CHECK(testing::max_abs_difference(fused_grad_in, grads[0]) == 0.0);
      for (const char* name : {"weight", "bias"}) {
        CAPTURE(name);
        CHECK(testing::max_abs_difference(testing::parameter(*fused, name).grad,
                                          testing::parameter(*conv_layer, name).grad) == 0.0);
      }
    }
  }
  set_thread_count(0);
}
