#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/fast_math.hpp"

using namespace dlrun;

namespace {

// Every 4001st float bit pattern of [-100, 100] (about 550 thousand values), plus the edges.
std::vector<float> sample_floats() {
  std::vector<float> values{0.0f, -0.0f, 1e-30f, -1e-30f, 87.3f, -87.3f, 88.3f, -88.3f, 1e30f, -1e30f};
  const auto last = std::bit_cast<std::uint32_t>(100.0f);
  for (auto bits = std::bit_cast<std::uint32_t>(1e-38f); bits < last; bits += 4001) {
    values.push_back(std::bit_cast<float>(bits));
    values.push_back(-std::bit_cast<float>(bits));
  }
  return values;
}

}  // namespace

TEST_CASE("fast_exp, fast_sigmoid, fast_tanh: close to libm over the float range, lanes equal scalars") {
  const std::vector<float> xs = sample_floats();
  double exp_error = 0.0, sigmoid_error = 0.0, tanh_error = 0.0;
  for (const float x : xs) {
    if (x > -87.0f && x < 88.0f) {
      const double exact = std::exp(static_cast<double>(x));
      exp_error = std::max(exp_error, std::abs(fast_exp(x) - exact) / exact);
    }
    sigmoid_error =
        std::max(sigmoid_error, std::abs(fast_sigmoid(x) - 1.0 / (1.0 + std::exp(-static_cast<double>(x)))));
    tanh_error = std::max(tanh_error, std::abs(fast_tanh(x) - std::tanh(static_cast<double>(x))));
  }
  CHECK(exp_error < 2e-7);
  CHECK(sigmoid_error < 3e-7);
  CHECK(tanh_error < 3e-7);
  CHECK(fast_exp(-1000.0f) > 0.0f);
  CHECK(std::isfinite(fast_exp(1000.0f)));
  CHECK(fast_sigmoid(-1000.0f) >= 0.0f);
  CHECK(fast_sigmoid(1000.0f) == 1.0f);
  CHECK(fast_tanh(1000.0f) == 1.0f);
  CHECK(fast_tanh(-1000.0f) == -1.0f);

  // The 8-lane path gives the same bits as the scalar one (no FMA, same operations).
  const float lanes_in[8] = {-90.0f, -3.5f, -0.01f, 0.0f, 1e-6f, 0.7f, 9.0f, 95.0f};
  const Float8 v = load_vector<Float8>(lanes_in);
  float e[8], s[8], t[8];
  store_vector(e, fast_exp(v));
  store_vector(s, fast_sigmoid(v));
  store_vector(t, fast_tanh(v));
  for (int i = 0; i < 8; ++i) {
    CAPTURE(lanes_in[i]);
    CHECK(e[i] == fast_exp(lanes_in[i]));
    CHECK(s[i] == fast_sigmoid(lanes_in[i]));
    CHECK(t[i] == fast_tanh(lanes_in[i]));
  }
}
