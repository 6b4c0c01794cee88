#include <doctest/doctest.h>

#include "layers/recurrent_test_support.hpp"

using namespace dlrun;

TEST_CASE("lstm: forward and backward match PyTorch's nn.LSTM (batch_first, uni- and bidirectional)") {
  testing::check_recurrent_fixtures("lstm");
}

TEST_CASE("lstm: gradients match finite differences through time") {
  testing::check_recurrent_gradients("lstm");
}
