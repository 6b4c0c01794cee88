#include <doctest/doctest.h>

#include "core/errors.hpp"
#include "layers/sequence_pool.hpp"
#include "layers/sequence_test_support.hpp"
#include "support/gradient_check.hpp"
#include "support/messages.hpp"

using namespace dlrun;

TEST_CASE("sequence_pool: last, mean and max over time match PyTorch, forward and backward") {
  const auto fixture = testing::load_fixture("fixtures/layers/sequence_pool.json");
  for (const auto& c : fixture.at("cases")) {
    const Tensor input = testing::tensor_from_json(c.at("input"));
    Rng rng(1);
    auto layer = testing::build_layer("sequence_pool", c.at("options"), input.shape(), rng);
    CHECK(layer->output_shape(input.shape()) == Shape{input.shape()[0], input.shape()[2]});
    testing::check_sequence_case(*layer, c);
  }
}

TEST_CASE("sequence_pool: gradients match finite differences for every mode") {
  for (const SequencePoolMode mode :
       {SequencePoolMode::last, SequencePoolMode::mean, SequencePoolMode::max}) {
    CAPTURE(static_cast<int>(mode));
    SequencePool pool("pool", mode);
    const auto report = testing::check_layer_gradients(pool, {3, 5, 4});
    CHECK_MESSAGE(report.passed, report.summary());
  }
}

TEST_CASE("sequence_pool: max sends the gradient to the first maximum; options and shapes are checked") {
  SequencePool pool("pool", SequencePoolMode::max);
  Tensor input({1, 3, 1});
  input[0] = 2.0f;
  input[1] = 5.0f;
  input[2] = 5.0f;
  Tensor output, grad_input;
  pool.forward(input, output, ForwardContext{});
  CHECK(output[0] == 5.0f);
  pool.backward(input, output, Tensor({1, 1}, 1.0f), grad_input);
  CHECK(grad_input[0] == 0.0f);
  CHECK(grad_input[1] == 1.0f);
  CHECK(grad_input[2] == 0.0f);

  Rng rng(1);
  CHECK(testing::contains(testing::message_of([&] {
                            testing::build_layer("sequence_pool", {{"mode", "avg"}}, {1, 4, 3}, rng);
                          }),
                          "mode"));
  CHECK_THROWS_AS(testing::build_layer("sequence_pool", {}, {1, 12}, rng), ShapeError);
  CHECK_THROWS_AS(pool.output_shape({2, 0, 3}), ShapeError);
}
