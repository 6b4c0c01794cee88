#include <doctest/doctest.h>

#include "core/errors.hpp"
#include "layers/recurrent_test_support.hpp"
#include "layers/simple_rnn.hpp"

using namespace dlrun;

TEST_CASE("simple_rnn: forward and backward match PyTorch's nn.RNN (tanh and relu, uni- and bidirectional)") {
  testing::check_recurrent_fixtures("simple_rnn");
}

TEST_CASE("simple_rnn: gradients match finite differences through time, tanh and relu") {
  testing::check_recurrent_gradients("simple_rnn");
  testing::check_recurrent_gradients("simple_rnn", {{"nonlinearity", "relu"}});
}

TEST_CASE("simple_rnn: nonlinearity is tanh by default, relu on request, nothing else") {
  Rng rng(1);
  auto plain = testing::build_layer("simple_rnn", {{"units", 2}}, {1, 3, 4}, rng);
  CHECK(dynamic_cast<SimpleRnn&>(*plain).nonlinearity() == RnnNonlinearity::tanh);
  auto relu = testing::build_layer("simple_rnn", {{"units", 2}, {"nonlinearity", "relu"}}, {1, 3, 4}, rng);
  CHECK(dynamic_cast<SimpleRnn&>(*relu).nonlinearity() == RnnNonlinearity::relu);
  CHECK_THROWS_AS(
      testing::build_layer("simple_rnn", {{"units", 2}, {"nonlinearity", "sigmoid"}}, {1, 3, 4}, rng),
      ConfigError);
}
