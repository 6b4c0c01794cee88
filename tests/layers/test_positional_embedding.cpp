#include <doctest/doctest.h>

#include <cmath>

#include "core/errors.hpp"
#include "layers/positional_embedding.hpp"
#include "layers/sequence_test_support.hpp"
#include "support/gradient_check.hpp"
#include "support/messages.hpp"

using namespace dlrun;
using testing::contains;
using testing::message_of;

TEST_CASE("positional_embedding: adds the first T rows of its table, as x + weight[:T] in PyTorch") {
  testing::check_sequence_fixture("positional_embedding", "fixtures/layers/positional_embedding.json");
}

TEST_CASE("positional_embedding: N(0, 0.02) init; gradients match finite differences; T <= max_length") {
  Rng rng(2);
  PositionalEmbedding positions("pos", 64, 32, rng);
  REQUIRE(positions.parameters().size() == 1);
  CHECK(positions.parameters()[0].name == "weight");
  double square = 0.0;
  for (const float w : positions.parameters()[0].value.values()) square += static_cast<double>(w) * w;
  CHECK(std::sqrt(square / (64.0 * 32.0)) == doctest::Approx(0.02).epsilon(0.1));

  PositionalEmbedding small("pos", 6, 3, rng);
  const auto report = testing::check_layer_gradients(small, {2, 4, 3});
  CHECK_MESSAGE(report.passed, report.summary());

  CHECK(small.output_shape({2, 6, 3}) == Shape{2, 6, 3});
  const std::string message = message_of([&] { (void)small.output_shape({2, 7, 3}); });
  CHECK(contains(message, "layer 'pos' (positional_embedding)"));
  CHECK(contains(message, "7 steps, more than max_length 6"));
  CHECK_THROWS_AS(testing::build_layer("positional_embedding", {{"max_length", 4}}, {1, 5, 3}, rng),
                  ShapeError);
  CHECK_THROWS_AS(testing::build_layer("positional_embedding", {}, {1, 5, 3}, rng), ConfigError);
}
