#include <doctest/doctest.h>

#include "layers/recurrent_test_support.hpp"

using namespace dlrun;

TEST_CASE("gru: forward and backward match PyTorch's nn.GRU (batch_first, uni- and bidirectional)") {
  testing::check_recurrent_fixtures("gru");
}

TEST_CASE("gru: gradients match finite differences through time") {
  testing::check_recurrent_gradients("gru");
}
