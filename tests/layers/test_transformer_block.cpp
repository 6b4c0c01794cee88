#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "core/threads.hpp"
#include "layers/sequence_test_support.hpp"
#include "layers/transformer_block.hpp"
#include "losses/cross_entropy.hpp"
#include "model/model_test_support.hpp"
#include "support/gradient_check.hpp"
#include "support/messages.hpp"

using namespace dlrun;
using testing::contains;
using testing::message_of;

namespace {

void randomize_block(Layer& layer, std::uint64_t seed) {
  Rng rng(seed);
  for (Parameter& p : layer.parameters()) {
    const bool norm_weight = p.name == "norm1.weight" || p.name == "norm2.weight";
    rng.fill_normal(p.value.values(), norm_weight ? 1.0f : 0.0f, 0.4f);
  }
}

TransformerBlockSpec spec_of(bool norm_first, bool causal, ActivationFunction activation,
                             double dropout = 0.0) {
  return TransformerBlockSpec{.heads = 2,
                              .ff = 10,
                              .dropout = dropout,
                              .activation = activation,
                              .norm_first = norm_first,
                              .causal = causal,
                              .eps = 1e-5};
}

}  // namespace

TEST_CASE("transformer_block: the parameters of PyTorch's TransformerEncoderLayer, in state_dict order") {
  Rng rng(1);
  TransformerBlock block("block", 8, spec_of(false, false, ActivationFunction::relu), rng);
  std::vector<std::string> names;
  for (const Parameter& p : block.parameters()) names.push_back(p.name);
  CHECK(names == std::vector<std::string>{"self_attn.in_proj_weight", "self_attn.in_proj_bias",
                                          "self_attn.out_proj.weight", "self_attn.out_proj.bias",
                                          "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
                                          "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"});
  CHECK(block.parameters()[4].value.shape() == Shape{10, 8});
  CHECK(block.parameters()[6].value.shape() == Shape{8, 10});
  CHECK(block.parameters()[8].value[0] == 1.0f);
  CHECK_FALSE(block.parameters()[8].regularized);
  CHECK(block.parameters()[4].regularized);
}

TEST_CASE(
    "transformer_block: forward and backward match nn.TransformerEncoderLayer (pre/post norm, relu/gelu)") {
  testing::check_sequence_fixture("transformer_block", "fixtures/layers/transformer_block.json");
}

TEST_CASE("transformer_block: gradients match finite differences, pre- and post-norm, causal or not") {
  // With relu, a hidden unit whose pre-activation lies within the step of 0 (relu's kink) breaks
  // central differences; the relu cases use parameter seeds where none does.
  struct Case {
    bool norm_first;
    bool causal;
    ActivationFunction activation;
    std::uint64_t seed;
  };
  for (const Case c :
       {Case{false, false, ActivationFunction::gelu, 3}, Case{true, true, ActivationFunction::gelu, 3},
        Case{false, true, ActivationFunction::relu, 3}, Case{true, false, ActivationFunction::relu, 4}}) {
    CAPTURE(c.norm_first);
    CAPTURE(c.causal);
    CAPTURE(activation_name(c.activation));
    Rng rng(2);
    TransformerBlock block("block", 6, spec_of(c.norm_first, c.causal, c.activation), rng);
    randomize_block(block, c.seed);
    const auto report = testing::check_layer_gradients(block, {2, 4, 6});
    CHECK_MESSAGE(report.passed, report.summary());
  }
}

TEST_CASE(
    "transformer_block: dropout in train mode is replayable, the same for any thread count, and checked") {
  Rng init(4);
  TransformerBlock block("block", 32, spec_of(true, true, ActivationFunction::gelu, 0.2), init);
  Rng data(5);
  const Tensor input = testing::random_normal({4, 24, 32}, data);
  const Tensor grad_output = testing::random_normal({4, 24, 32}, data);
  const Tensor train_output = testing::check_same_for_thread_counts(block, input, grad_output);
  Tensor eval_output;
  block.forward(input, eval_output, ForwardContext{});
  CHECK(testing::max_abs_difference(train_output, eval_output) > 0.01);

  for (const bool norm_first : {false, true}) {
    CAPTURE(norm_first);
    Rng rng(6);
    TransformerBlock small("block", 6, spec_of(norm_first, true, ActivationFunction::gelu, 0.3), rng);
    randomize_block(small, 7);
    testing::GradientCheckOptions options;
    options.mode = Mode::train;
    const auto report = testing::check_layer_gradients(small, {2, 4, 6}, options);
    CHECK_MESSAGE(report.passed, report.summary());
  }
}

TEST_CASE(
    "transformer_block: the factory's defaults follow PyTorch (ff 4 * d_model here) and errors name keys") {
  Rng rng(1);
  auto layer = testing::build_layer("transformer_block", {{"heads", 2}}, {1, 5, 8}, rng, "block1");
  const auto& block = dynamic_cast<const TransformerBlock&>(*layer);
  CHECK(block.spec().ff == 32);
  CHECK(block.spec().dropout == 0.1);
  CHECK(block.spec().activation == ActivationFunction::relu);
  CHECK_FALSE(block.spec().norm_first);
  CHECK_FALSE(block.spec().causal);
  CHECK(layer->flops_per_example({1, 5, 8}) > 2.0 * 5 * 2 * 8 * 32);
  CHECK(contains(message_of([&] {
                   testing::build_layer("transformer_block", {{"heads", 3}}, {1, 5, 8}, rng);
                 }),
                 "heads: must divide d_model"));
  CHECK(contains(
      message_of([&] {
        testing::build_layer("transformer_block", {{"heads", 2}, {"activation", "tanh"}}, {1, 5, 8}, rng);
      }),
      "activation"));
  CHECK(contains(
      message_of([&] {
        testing::build_layer("transformer_block", {{"heads", 2}, {"norm_frist", true}}, {1, 5, 8}, rng);
      }),
      "did you mean 'norm_first'?"));
  CHECK_THROWS_AS(testing::build_layer("transformer_block", {{"heads", 2}}, {1, 8}, rng), ShapeError);
}

// A character language model as configs hold it: embedding -> positional_embedding ->
// transformer_block (causal) -> dense over the last axis, per-step cross-entropy on (N, T, C).
TEST_CASE("transformer_block: a tiny causal language model learns to continue a repeating text") {
  Model model = testing::build_model(
      "    - {type: embedding, vocab: 5, dim: 16}\n"
      "    - {type: positional_embedding, max_length: 8}\n"
      "    - {type: transformer_block, heads: 2, ff: 32, dropout: 0.0, causal: true, norm_first: true}\n"
      "    - {type: dense, units: 5}\n",
      Shape{8});
  CHECK_FALSE(model.layer(0).layer->input_grad_needed());
  CHECK(model.output_shape() == Shape{8, 5});
  // Windows of "0123401234...": the next id is always (id + 1) mod 5.
  Tensor input({6, 8});
  std::vector<std::int32_t> labels(48);
  for (Index n = 0; n < 6; ++n) {
    for (Index t = 0; t < 8; ++t) {
      input[n * 8 + t] = static_cast<float>((n + t) % 5);
      labels[static_cast<std::size_t>(n * 8 + t)] = static_cast<std::int32_t>((n + t + 1) % 5);
    }
  }
  CrossEntropyLoss loss;
  Tensor grad;
  double first = 0.0, last = 0.0;
  for (int step = 0; step < 100; ++step) {
    model.zero_grads();
    const Tensor& logits = model.forward(input, ForwardContext{Mode::train, nullptr});
    REQUIRE(logits.shape() == Shape{6, 8, 5});
    last = loss.forward_backward(logits, BatchTargets{labels, nullptr}, &grad);
    if (step == 0) first = last;
    model.backward(input, grad);
    for (const ParameterRef& ref : model.trainable_parameters()) {
      for (Index i = 0; i < ref.parameter->value.size(); ++i)
        ref.parameter->value[i] -= 0.05f * ref.parameter->grad[i];
    }
  }
  CHECK(first > 1.2);  // about log(5) = 1.61 at init
  CHECK(last < 0.05);  // the continuation is fully determined by the current id

  // Generation feeds shorter prefixes: the logits of a prefix are those of the same steps of the
  // full window (causal mask, positions from 0), and they continue the pattern.
  Tensor full_input({1, 8});
  for (Index t = 0; t < 8; ++t) full_input[t] = static_cast<float>((t + 2) % 5);
  const Tensor full = model.forward(full_input, ForwardContext{});
  Tensor prefix({1, 3});
  for (Index t = 0; t < 3; ++t) prefix[t] = full_input[t];
  const Tensor& short_logits = model.forward(prefix, ForwardContext{});
  REQUIRE(short_logits.shape() == Shape{1, 3, 5});
  for (Index i = 0; i < 15; ++i) CHECK(short_logits[i] == doctest::Approx(full[i]).epsilon(1e-5));
  const float* last_step = short_logits.data() + 2 * 5;
  CHECK(std::max_element(last_step, last_step + 5) - last_step == (2 + 3) % 5);
}
