#include <doctest/doctest.h>

#include <cmath>

#include "core/errors.hpp"
#include "layers/embedding.hpp"
#include "layers/sequence_test_support.hpp"
#include "support/gradient_check.hpp"
#include "support/messages.hpp"

using namespace dlrun;
using testing::contains;
using testing::message_of;

TEST_CASE(
    "embedding: (N, T) ids -> (N, T, dim) rows of the table; PyTorch's N(0, 1) init, padding row zero") {
  Rng rng(3);
  Embedding embedding("emb", EmbeddingSpec{.vocab = 200, .dim = 50, .padding_idx = 4}, rng);
  REQUIRE(embedding.parameters().size() == 1);
  const Parameter& weight = embedding.parameters()[0];
  CHECK(weight.name == "weight");
  CHECK(weight.value.shape() == Shape{200, 50});
  double mean = 0.0, square = 0.0;
  for (const float w : weight.value.values()) {
    mean += w;
    square += static_cast<double>(w) * w;
  }
  mean /= static_cast<double>(weight.value.size());
  CHECK(std::abs(mean) < 0.02);
  CHECK(square / static_cast<double>(weight.value.size()) == doctest::Approx(1.0).epsilon(0.03));
  for (Index d = 0; d < 50; ++d) CHECK(weight.value[4 * 50 + d] == 0.0f);

  CHECK(embedding.output_shape({8, 16}) == Shape{8, 16, 50});
  Tensor input({2, 3});
  const float ids[] = {7, 4, 199, 0, 7, 12};
  std::copy(std::begin(ids), std::end(ids), input.values().begin());
  Tensor output;
  embedding.forward(input, output, ForwardContext{});
  REQUIRE(output.shape() == Shape{2, 3, 50});
  for (Index i = 0; i < 6; ++i) {
    const auto id = static_cast<Index>(ids[i]);
    for (Index d = 0; d < 50; ++d) CHECK(output[i * 50 + d] == weight.value[id * 50 + d]);
  }
}

TEST_CASE("embedding: forward and backward match PyTorch's nn.Embedding (repeated ids, padding_idx)") {
  testing::check_sequence_fixture("embedding", "fixtures/layers/embedding.json");
}

TEST_CASE("embedding: the weight gradient matches finite differences; the padding row gets none") {
  Rng rng(4);
  Embedding embedding("emb", EmbeddingSpec{.vocab = 6, .dim = 3, .padding_idx = 1}, rng);
  testing::GradientCheckOptions options;
  options.check_input = false;
  options.input_values = {0, 4, 5, 5, 2, 0, 3, 0};  // repeated ids accumulate
  const auto report = testing::check_layer_gradients(embedding, {2, 4}, options);
  CHECK_MESSAGE(report.passed, report.summary());

  // As PyTorch: the padding row is looked up like any other, but its gradient stays zero.
  Tensor input({1, 3});
  input[0] = 1.0f;
  input[1] = 2.0f;
  input[2] = 1.0f;
  Tensor output, grad_input;
  embedding.forward(input, output, ForwardContext{});
  Parameter& weight = embedding.parameters()[0];
  weight.grad.zero();
  embedding.backward(input, output, Tensor({1, 3, 3}, 1.0f), grad_input);
  for (Index d = 0; d < 3; ++d) {
    CHECK(weight.grad[1 * 3 + d] == 0.0f);
    CHECK(weight.grad[2 * 3 + d] == 1.0f);
  }
  CHECK(grad_input.shape() == input.shape());
}

TEST_CASE("embedding: ids outside [0, vocab) or not integers are DataErrors naming the layer and the place") {
  Rng rng(1);
  Embedding embedding("emb", EmbeddingSpec{.vocab = 5, .dim = 2, .padding_idx = std::nullopt}, rng);
  Tensor output;
  for (const float bad : {5.0f, -1.0f, 2.5f, NAN, 1e30f}) {
    CAPTURE(bad);
    Tensor input({2, 3}, 1.0f);
    input[4] = bad;
    CHECK_THROWS_AS(embedding.forward(input, output, ForwardContext{}), DataError);
  }
  Tensor input({2, 3}, 1.0f);
  input[4] = 9.0f;
  const std::string message = message_of([&] { embedding.forward(input, output, ForwardContext{}); });
  CHECK(contains(message, "layer 'emb' (embedding)"));
  CHECK(contains(message, "input 9 at sample 1, step 1 is not a token id in [0, 5)"));
}

TEST_CASE("embedding: the factory reads vocab, dim and padding_idx and checks them") {
  Rng rng(1);
  auto layer =
      testing::build_layer("embedding", {{"vocab", 10}, {"dim", 4}, {"padding_idx", 0}}, {1, 7}, rng);
  CHECK(layer->output_shape({3, 7}) == Shape{3, 7, 4});
  CHECK_THROWS_AS(testing::build_layer("embedding", {{"vocab", 10}}, {1, 7}, rng), ConfigError);
  CHECK(contains(
      message_of([&] {
        testing::build_layer("embedding", {{"vocab", 10}, {"dim", 4}, {"padding_idx", 10}}, {1, 7}, rng);
      }),
      "padding_idx"));
  CHECK(contains(message_of([&] {
                   testing::build_layer("embedding", {{"vocab", 10}, {"dim", 0}}, {1, 7}, rng);
                 }),
                 "dim: must be >= 1"));
  CHECK_THROWS_AS(testing::build_layer("embedding", {{"vocab", 10}, {"dim", 4}}, {1, 7, 3}, rng), ShapeError);
}
