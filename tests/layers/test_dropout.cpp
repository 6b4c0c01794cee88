#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>

#include "core/errors.hpp"
#include "core/options.hpp"
#include "core/threads.hpp"
#include "layers/dropout.hpp"
#include "layers/registry.hpp"
#include "support/gradient_check.hpp"
#include "support/messages.hpp"

using namespace dlrun;
using testing::message_of;

namespace {

std::unique_ptr<Layer> build_dropout(const std::string& rate) {
  Node node = Node::map(Location{"model.yaml", 4, 7});
  if (!rate.empty()) node.set("rate", Node::scalar(rate, Location{"model.yaml", 4, 31}));
  Options options(node, "layer 'drop1' (dropout)");
  return make_builtin_layer_registry().build("dropout", Location{"model.yaml", 4, 15}, options,
                                             LayerBuildContext{"drop1", Shape{1, 8}, nullptr});
}

}  // namespace

TEST_CASE(
    "dropout: train mode zeroes dropped elements, scales the rest by 1/(1-rate), backward reuses the mask") {
  Dropout dropout(0.25, "drop");
  Rng data_rng(1);
  const Tensor input = testing::random_normal({8, 16}, data_rng);
  const Tensor grad_output = testing::random_normal({8, 16}, data_rng);
  Rng rng(42);
  Tensor output, grad_input;
  dropout.forward(input, output, ForwardContext{Mode::train, &rng});
  dropout.backward(input, output, grad_output, grad_input);
  const float scale = 1.0f / 0.75f;
  Index dropped = 0;
  for (Index i = 0; i < input.size(); ++i) {
    const float mask = dropout.mask()[i];
    CHECK((mask == 0.0f || mask == scale));
    if (mask == 0.0f) {
      ++dropped;
      CHECK(output[i] == 0.0f);
      CHECK(grad_input[i] == 0.0f);
    } else {
      CHECK(output[i] == doctest::Approx(input[i] * scale));
      CHECK(grad_input[i] == doctest::Approx(grad_output[i] * scale));
    }
  }
  CHECK(dropped > 0);
  CHECK(dropped < input.size());

  // The mask is a function of the stream: the same Rng state gives the same mask.
  Rng replay(42);
  Tensor again;
  dropout.forward(input, again, ForwardContext{Mode::train, &replay});
  CHECK(testing::max_abs_difference(again, output) == 0.0);
  Rng other(43);
  dropout.forward(input, again, ForwardContext{Mode::train, &other});
  CHECK(testing::max_abs_difference(again, output) > 0.0);
}

TEST_CASE("dropout: drops a fraction `rate` and preserves the mean in expectation") {
  for (const double rate : {0.1, 0.5, 0.9}) {
    CAPTURE(rate);
    Dropout dropout(rate, "drop");
    const Tensor ones({200, 500}, 1.0f);
    Rng rng(7);
    Tensor output;
    dropout.forward(ones, output, ForwardContext{Mode::train, &rng});
    double sum = 0.0;
    Index zeros = 0;
    for (const float y : output.values()) {
      sum += y;
      zeros += y == 0.0f;
    }
    const auto count = static_cast<double>(ones.size());
    CHECK(static_cast<double>(zeros) / count == doctest::Approx(rate).epsilon(0.02));
    // std of the mean is sqrt(rate / (1 - rate) / count) <= 0.007 here.
    CHECK(std::abs(sum / count - 1.0) < 0.03);
  }
}

TEST_CASE("dropout: eval mode and rate 0 are the identity, forward and backward") {
  Rng data_rng(3);
  const Tensor input = testing::random_normal({4, 3, 5}, data_rng);
  const Tensor grad_output = testing::random_normal({4, 3, 5}, data_rng);
  Dropout dropout(0.5, "drop");
  Tensor output, grad_input;
  dropout.forward(input, output, ForwardContext{Mode::eval, nullptr});
  dropout.backward(input, output, grad_output, grad_input);
  CHECK(testing::max_abs_difference(output, input) == 0.0);
  CHECK(testing::max_abs_difference(grad_input, grad_output) == 0.0);
  CHECK(output.shape() == input.shape());

  Dropout off(0.0, "drop");
  off.forward(input, output, ForwardContext{Mode::train, nullptr});  // needs no Rng
  off.backward(input, output, grad_output, grad_input);
  CHECK(testing::max_abs_difference(output, input) == 0.0);
  CHECK(testing::max_abs_difference(grad_input, grad_output) == 0.0);

  // After a train forward, an eval forward switches backward back to the identity.
  Rng rng(5);
  dropout.forward(input, output, ForwardContext{Mode::train, &rng});
  dropout.forward(input, output, ForwardContext{Mode::eval, nullptr});
  dropout.backward(input, output, grad_output, grad_input);
  CHECK(testing::max_abs_difference(grad_input, grad_output) == 0.0);
}

TEST_CASE("dropout: gradients match finite differences in eval and train mode") {
  for (const Mode mode : {Mode::eval, Mode::train}) {
    CAPTURE(mode == Mode::train);
    Dropout dropout(0.4, "drop");
    testing::GradientCheckOptions options;
    options.mode = mode;
    const auto report = testing::check_layer_gradients(dropout, {3, 2, 4}, options);
    CHECK_MESSAGE(report.passed, report.summary());
  }
}

TEST_CASE("dropout: rate must be in [0, 1); default 0.5; train mode without an Rng is a bug") {
  CHECK(dynamic_cast<const Dropout&>(*build_dropout("")).rate() == 0.5);
  CHECK(dynamic_cast<const Dropout&>(*build_dropout("0.2")).rate() == doctest::Approx(0.2));
  CHECK_THROWS_AS(build_dropout("1"), ConfigError);
  CHECK_THROWS_AS(build_dropout("-0.1"), ConfigError);
  const std::string message = message_of([] { build_dropout("1.5"); });
  CHECK(message.find("model.yaml:4:31") != std::string::npos);
  CHECK(message.find("rate: must be in [0, 1), got 1.5") != std::string::npos);

  Dropout dropout(0.5, "drop");
  Tensor output;
  CHECK_THROWS_AS(dropout.forward(Tensor({2, 2}), output, ForwardContext{Mode::train, nullptr}),
                  InternalError);
}

TEST_CASE("dropout: the mask depends on the step's stream only, not on the thread count") {
  Rng data_rng(5);
  const Tensor input = testing::random_normal({3, 20000}, data_rng);  // several chunks, a partial last one
  std::vector<Tensor> masks;
  for (const int threads : {1, 2, 1}) {
    set_thread_count(threads);
    Dropout dropout(0.3, "drop");
    Rng step_rng(77);
    Tensor output;
    dropout.forward(input, output, {Mode::train, &step_rng});
    masks.push_back(dropout.mask());
  }
  set_thread_count(0);
  CHECK(testing::max_abs_difference(masks[0], masks[1]) == 0.0);
  CHECK(testing::max_abs_difference(masks[0], masks[2]) == 0.0);
  Dropout other(0.3, "drop");
  Rng other_rng(78);
  Tensor output;
  other.forward(input, output, {Mode::train, &other_rng});
  CHECK(testing::max_abs_difference(masks[0], other.mask()) > 0.0);  // another step, another mask
}
