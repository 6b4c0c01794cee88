#include <doctest/doctest.h>

#include <cmath>

#include "core/errors.hpp"
#include "layers/conv_test_support.hpp"
#include "layers/pooling.hpp"

using namespace dlrun;
using nlohmann::json;

namespace {

std::unique_ptr<Layer> pool(const std::string& type, const json& options, const Shape& input) {
  Rng rng(1);
  return testing::build_layer(type, options, input, rng, "pool1");
}

// Distinct values 0.01 apart (shuffled), so no two entries of a max-pool window are within the
// finite-difference step of each other.
std::vector<float> distinct_values(Index count, std::uint64_t seed) {
  std::vector<Index> order(static_cast<std::size_t>(count));
  for (Index i = 0; i < count; ++i) order[static_cast<std::size_t>(i)] = i;
  Rng rng(seed);
  rng.shuffle(order);
  std::vector<float> values;
  for (const Index i : order) values.push_back(0.01f * static_cast<float>(i - count / 2));
  return values;
}

}  // namespace

TEST_CASE("pooling: output shapes follow PyTorch's floor rule") {
  CHECK(pool("maxpool2d", {{"pool", 2}}, {1, 32, 26, 26})->output_shape({64, 32, 26, 26}) ==
        Shape{64, 32, 13, 13});
  CHECK(pool("maxpool2d", {}, {1, 3, 7, 7})->output_shape({2, 3, 7, 7}) ==
        Shape{2, 3, 3, 3});  // default pool 2
  CHECK(pool("maxpool2d", {{"pool", 3}, {"stride", 2}, {"padding", 1}}, {1, 2, 7, 6})
            ->output_shape({1, 2, 7, 6}) == Shape{1, 2, 4, 3});
  CHECK(pool("avgpool2d", {{"pool", json::array({2, 3})}, {"stride", json::array({1, 2})}}, {1, 3, 5, 7})
            ->output_shape({4, 3, 5, 7}) == Shape{4, 3, 4, 3});
  CHECK(pool("global_avg_pool2d", {}, {1, 3, 4, 5})->output_shape({8, 3, 4, 5}) == Shape{8, 3});
}

TEST_CASE("pooling: errors name the layer or the key") {
  const std::string rank = testing::error_message<ShapeError>([] { pool("maxpool2d", {}, {2, 10}); });
  CHECK(rank.find("layer 'pool1' (maxpool2d): expects input (N, C, H, W)") != std::string::npos);
  const std::string small = testing::error_message<ShapeError>([] {
    pool("avgpool2d", {{"pool", 5}}, {1, 1, 4, 8});
  });
  CHECK(small.find("layer 'pool1' (avgpool2d): pool 5x5 is larger than the input 4x8") != std::string::npos);
  CHECK_THROWS_AS(pool("global_avg_pool2d", {}, {2, 3, 4}), ShapeError);
  const std::string pad = testing::error_message<ConfigError>([] {
    pool("maxpool2d", {{"pool", 2}, {"padding", 2}}, {1, 1, 8, 8});
  });
  CHECK(pad.find("padding: must be at most half the pool size") != std::string::npos);
  CHECK(testing::error_message<ConfigError>([] {
          pool("maxpool2d", {{"pool", 0}}, {1, 1, 8, 8});
        }).find("pool: must be >= 1") != std::string::npos);
  CHECK(testing::error_message<ConfigError>([] {
          pool("global_avg_pool2d", {{"pool", 2}}, {1, 1, 8, 8});
        }).find("unknown option 'pool'") != std::string::npos);
}

TEST_CASE("pooling: hand-computed max and average") {
  // one 3x4 plane: windows 2x2, stride 2 -> 1x2 outputs (the last row is dropped by the floor)
  const Tensor input = [] {
    Tensor t({1, 1, 3, 4});
    const float v[] = {1, 5, 2, 0, 3, 4, 8, 6, 9, 9, 9, 9};
    std::copy(std::begin(v), std::end(v), t.data());
    return t;
  }();
  Tensor output;
  Tensor grad_input(Shape{1}, 3.0f);  // dirty: backward assigns
  Tensor grad_output({1, 1, 1, 2});
  grad_output[0] = 10.0f;
  grad_output[1] = 20.0f;

  auto max_pool = pool("maxpool2d", {{"pool", 2}}, input.shape());
  max_pool->forward(input, output, {});
  CHECK(output.values()[0] == 5.0f);
  CHECK(output.values()[1] == 8.0f);
  max_pool->backward(input, output, grad_output, grad_input);
  CHECK(std::vector<float>(grad_input.values().begin(), grad_input.values().end()) ==
        std::vector<float>{0, 10, 0, 0, 0, 0, 20, 0, 0, 0, 0, 0});

  auto avg_pool = pool("avgpool2d", {{"pool", 2}}, input.shape());
  avg_pool->forward(input, output, {});
  CHECK(output.values()[0] == doctest::Approx(13.0 / 4));
  CHECK(output.values()[1] == doctest::Approx(16.0 / 4));
  avg_pool->backward(input, output, grad_output, grad_input);
  CHECK(std::vector<float>(grad_input.values().begin(), grad_input.values().end()) ==
        std::vector<float>{2.5, 2.5, 5, 5, 2.5, 2.5, 5, 5, 0, 0, 0, 0});

  auto global = pool("global_avg_pool2d", {}, input.shape());
  global->forward(input, output, {});
  CHECK(output.shape() == Shape{1, 1});
  CHECK(output.values()[0] == doctest::Approx(65.0 / 12));
}

TEST_CASE("pooling: max pool with padding never picks the padding") {
  Tensor input({1, 1, 2, 2}, -5.0f);  // all negative: a zero pad would win
  input[3] = -1.0f;
  Tensor output;
  auto layer = pool("maxpool2d", {{"pool", 2}, {"stride", 1}, {"padding", 1}}, input.shape());
  layer->forward(input, output, {});
  CHECK(output.shape() == Shape{1, 1, 3, 3});
  CHECK(output.values()[0] == -5.0f);
  CHECK(output.values()[8] == -1.0f);
}

TEST_CASE("pooling: max pool routes the gradient to the first maximum on ties, as PyTorch") {
  Tensor input({1, 1, 2, 2}, 1.0f);
  Tensor output;
  Tensor grad_input;
  auto layer = pool("maxpool2d", {{"pool", 2}}, input.shape());
  layer->forward(input, output, {});
  layer->backward(input, output, Tensor({1, 1, 1, 1}, 4.0f), grad_input);
  CHECK(std::vector<float>(grad_input.values().begin(), grad_input.values().end()) ==
        std::vector<float>{4, 0, 0, 0});
}

TEST_CASE("pooling: max pool matches a naive window scan, with ties and NaN") {
  struct Case {
    json options;
    Shape input;
  };
  const std::vector<Case> cases{
      {{{"pool", 2}}, {2, 3, 6, 21}},  // the 4-wide vector path plus a scalar tail
      {{{"pool", 2}, {"padding", 1}}, {1, 2, 7, 19}},
      {{{"pool", json::array({3, 2})}, {"stride", 2}, {"padding", 1}}, {1, 2, 9, 20}},
      {{{"pool", 3}, {"stride", 1}, {"padding", 1}}, {1, 2, 5, 11}},
  };
  Rng rng(7);
  for (const Case& c : cases) {
    CAPTURE(c.options.dump());
    auto layer = pool("maxpool2d", c.options, c.input);
    Tensor input(c.input);
    for (float& v : input.values()) v = static_cast<float>(rng.below(4));  // many ties
    input[5] = NAN;
    Tensor output;
    layer->forward(input, output, {});
    Tensor grad_input;
    layer->backward(input, output, Tensor(output.shape(), 1.0f), grad_input);

    const Index planes = c.input[0] * c.input[1], height = c.input[2], width = c.input[3];
    const Index out_h = output.shape()[2], out_w = output.shape()[3];
    const json& size = c.options.at("pool");
    const Index pool_h = size.is_array() ? size[0].get<Index>() : size.get<Index>();
    const Index pool_w = size.is_array() ? size[1].get<Index>() : pool_h;
    const Index stride = c.options.contains("stride") ? c.options.at("stride").get<Index>() : pool_w;
    const Index pad = c.options.contains("padding") ? c.options.at("padding").get<Index>() : 0;
    Tensor expected_grad(c.input, 0.0f);
    Index mismatches = 0;
    for (Index p = 0; p < planes; ++p) {
      for (Index oh = 0; oh < out_h; ++oh) {
        for (Index ow = 0; ow < out_w; ++ow) {
          float best = -INFINITY;
          Index best_at = -1;
          for (Index i = 0; i < pool_h; ++i) {
            for (Index j = 0; j < pool_w; ++j) {
              const Index h = oh * stride - pad + i, w = ow * stride - pad + j;
              if (h < 0 || h >= height || w < 0 || w >= width) continue;
              const float v = input[(p * height + h) * width + w];
              if (best_at < 0 || v > best || std::isnan(v)) {
                best = v;
                best_at = (p * height + h) * width + w;
              }
            }
          }
          const float got = output[(p * out_h + oh) * out_w + ow];
          mismatches += !(got == best || (std::isnan(got) && std::isnan(best)));
          expected_grad[best_at] += 1.0f;
        }
      }
    }
    CHECK(mismatches == 0);
    CHECK(testing::max_abs_difference(grad_input, expected_grad) == 0.0);
  }
}

TEST_CASE("pooling: gradients match finite differences") {
  struct Case {
    std::string type;
    json options;
    Shape input;
  };
  const std::vector<Case> cases{
      {"maxpool2d", {{"pool", 2}}, {2, 3, 6, 7}},
      {"maxpool2d", {{"pool", 3}, {"stride", 2}, {"padding", 1}}, {2, 2, 7, 6}},
      {"maxpool2d", {{"pool", json::array({2, 3})}, {"stride", 1}}, {1, 2, 4, 5}},  // overlapping windows
      {"avgpool2d", {{"pool", 2}}, {2, 3, 6, 7}},
      {"avgpool2d", {{"pool", 3}, {"stride", 2}, {"padding", 1}}, {2, 2, 7, 6}},
      {"avgpool2d",
       {{"pool", json::array({3, 2})}, {"stride", 1}, {"padding", json::array({1, 0})}},
       {1, 2, 4, 5}},
      {"global_avg_pool2d", {}, {2, 3, 4, 5}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.type);
    CAPTURE(c.options.dump());
    auto layer = pool(c.type, c.options, c.input);
    testing::GradientCheckOptions options;
    options.max_coordinates = 1000;
    if (c.type == "maxpool2d") options.input_values = distinct_values(c.input.element_count(), 3);
    const auto report = testing::check_layer_gradients(*layer, c.input, options);
    CHECK_MESSAGE(report.passed, report.summary());
  }
}

TEST_CASE("pooling: forward and backward match PyTorch") {
  const json fixture = testing::load_fixture("fixtures/conv/pooling.json");
  for (const json& c : fixture.at("cases")) {
    CAPTURE(c.at("name").get<std::string>());
    const Tensor input = testing::tensor_from_json(c.at("input"));
    auto layer = pool(c.at("type").get<std::string>(), c.at("options"), input.shape());
    Tensor output;
    layer->forward(input, output, {Mode::train, nullptr});
    testing::check_matches(output, c.at("output"), "output");
    Tensor grad_input;
    layer->backward(input, output, testing::tensor_from_json(c.at("grad_output")), grad_input);
    testing::check_matches(grad_input, c.at("grad_input"), "grad_input");
  }
}
