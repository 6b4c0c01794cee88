#include <doctest/doctest.h>

#include <cmath>

#include "core/errors.hpp"
#include "core/threads.hpp"
#include "layers/attention.hpp"
#include "layers/sequence_test_support.hpp"
#include "support/gradient_check.hpp"
#include "support/messages.hpp"

using namespace dlrun;
using testing::contains;
using testing::message_of;

namespace {

// Every parameter random, biases included (they start at zero).
void randomize_attention(Layer& layer, std::uint64_t seed) {
  Rng rng(seed);
  for (Parameter& p : layer.parameters()) rng.fill_normal(p.value.values(), 0.0f, 0.5f);
}

}  // namespace

TEST_CASE("multi_head_attention: PyTorch's parameter names, shapes and init") {
  Rng rng(1);
  MultiHeadAttention attention("attn", 16, AttentionSpec{.heads = 4}, rng);
  const auto parameters = attention.parameters();
  REQUIRE(parameters.size() == 4);
  CHECK(parameters[0].name == "in_proj_weight");
  CHECK(parameters[0].value.shape() == Shape{48, 16});
  CHECK(parameters[1].name == "in_proj_bias");
  CHECK(parameters[1].value.shape() == Shape{48});
  CHECK(parameters[2].name == "out_proj.weight");
  CHECK(parameters[2].value.shape() == Shape{16, 16});
  CHECK(parameters[3].name == "out_proj.bias");
  CHECK(parameters[0].regularized);
  CHECK_FALSE(parameters[1].regularized);
  // xavier_uniform on in_proj_weight: bound sqrt(6 / (E + 3E)); out_proj.weight: 1 / sqrt(E).
  const float xavier = std::sqrt(6.0f / 64.0f);
  float largest = 0.0f;
  for (const float w : parameters[0].value.values()) largest = std::max(largest, std::abs(w));
  CHECK(largest <= xavier);
  CHECK(largest > 0.9f * xavier);
  for (const float w : parameters[2].value.values()) CHECK(std::abs(w) <= 0.25f);
  for (const float b : parameters[1].value.values()) CHECK(b == 0.0f);
  for (const float b : parameters[3].value.values()) CHECK(b == 0.0f);

  MultiHeadAttention no_bias("attn", 8, AttentionSpec{.heads = 2, .bias = false}, rng);
  REQUIRE(no_bias.parameters().size() == 2);
  CHECK(no_bias.parameters()[1].name == "out_proj.weight");
}

TEST_CASE(
    "multi_head_attention: forward and backward match PyTorch's nn.MultiheadAttention (causal mask too)") {
  testing::check_sequence_fixture("multi_head_attention", "fixtures/layers/attention.json");
}

TEST_CASE("multi_head_attention: gradients match finite differences, with and without the causal mask") {
  for (const bool causal : {false, true}) {
    for (const bool bias : {true, false}) {
      CAPTURE(causal);
      CAPTURE(bias);
      Rng rng(2);
      MultiHeadAttention attention("attn", 6, AttentionSpec{.heads = 2, .causal = causal, .bias = bias}, rng);
      randomize_attention(attention, 3);
      const auto report = testing::check_layer_gradients(attention, {2, 5, 6});
      CHECK_MESSAGE(report.passed, report.summary());
    }
  }
}

TEST_CASE("multi_head_attention: with the causal mask, step t depends on steps <= t only") {
  Rng rng(4);
  MultiHeadAttention attention("attn", 8, AttentionSpec{.heads = 2, .causal = true}, rng);
  randomize_attention(attention, 5);
  Tensor input = testing::random_normal({2, 6, 8}, rng);
  Tensor before, after;
  attention.forward(input, before, ForwardContext{});
  const Tensor& weights = attention.attention_weights();
  for (Index p = 0; p < 4; ++p) {
    for (Index i = 0; i < 6; ++i) {
      double sum = 0.0;
      for (Index j = 0; j < 6; ++j) {
        const float w = weights[(p * 6 + i) * 6 + j];
        if (j > i) CHECK(w == 0.0f);
        sum += w;
      }
      CHECK(sum == doctest::Approx(1.0).epsilon(1e-5));
    }
  }
  for (Index n = 0; n < 2; ++n) {
    for (Index f = 0; f < 8; ++f) input[(n * 6 + 4) * 8 + f] += 3.0f;  // change step 4 only
  }
  attention.forward(input, after, ForwardContext{});
  for (Index n = 0; n < 2; ++n) {
    for (Index t = 0; t < 6; ++t) {
      bool same = true;
      for (Index f = 0; f < 8; ++f) same = same && before[(n * 6 + t) * 8 + f] == after[(n * 6 + t) * 8 + f];
      CHECK(same == (t < 4));
    }
  }
}

TEST_CASE("multi_head_attention: dropout on the weights in train mode only, the same for any thread count") {
  Rng init(6);
  MultiHeadAttention attention("attn", 32, AttentionSpec{.heads = 2, .causal = true, .dropout = 0.3}, init);
  randomize_attention(attention, 7);
  Rng data(8);
  const Tensor input = testing::random_normal({4, 32, 32}, data);
  const Tensor grad_output = testing::random_normal({4, 32, 32}, data);
  Tensor eval_output, eval_again;
  attention.forward(input, eval_output, ForwardContext{Mode::eval, nullptr});
  attention.forward(input, eval_again, ForwardContext{Mode::eval, nullptr});
  CHECK(testing::max_abs_difference(eval_output, eval_again) == 0.0);

  const Tensor train_output = testing::check_same_for_thread_counts(attention, input, grad_output);
  CHECK(testing::max_abs_difference(train_output, eval_output) > 0.01);

  // The backward of the dropped weights, checked against finite differences with a fixed mask
  // (the check replays the same stream on every evaluation).
  Rng small_init(9);
  MultiHeadAttention small("attn", 6, AttentionSpec{.heads = 3, .causal = true, .dropout = 0.4}, small_init);
  randomize_attention(small, 10);
  testing::GradientCheckOptions options;
  options.mode = Mode::train;
  const auto report = testing::check_layer_gradients(small, {2, 5, 6}, options);
  CHECK_MESSAGE(report.passed, report.summary());
}

TEST_CASE("multi_head_attention: the factory checks heads against the features and the input's rank") {
  Rng rng(1);
  auto layer =
      testing::build_layer("multi_head_attention", {{"heads", 4}, {"causal", true}}, {1, 10, 16}, rng);
  CHECK(layer->output_shape({3, 7, 16}) == Shape{3, 7, 16});
  // Forward FLOPs of one example: the projections, the scores and weighted sums, the softmax.
  CHECK(layer->flops_per_example({1, 10, 16}) ==
        doctest::Approx(2.0 * 10 * 16 * 48 + 2.0 * 10 * 16 * 16 + 4.0 * 10 * 10 * 16 + 4.0 * 4 * 10 * 10));
  const std::string message = message_of([&] {
    testing::build_layer("multi_head_attention", {{"heads", 3}}, {1, 10, 16}, rng, "attn1");
  });
  CHECK(contains(message, "heads: must divide the input's 16 features, got 3"));
  CHECK_THROWS_AS(testing::build_layer("multi_head_attention", {{"heads", 2}}, {1, 16}, rng), ShapeError);
  CHECK_THROWS_AS(
      testing::build_layer("multi_head_attention", {{"heads", 2}, {"dropout", 1.0}}, {1, 4, 16}, rng),
      ConfigError);
  CHECK_THROWS_AS(layer->output_shape({3, 7, 8}), ShapeError);
}
