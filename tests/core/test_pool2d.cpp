#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/pool2d.hpp"
#include "core/random.hpp"

using namespace dlrun;

namespace {

// 2x2 windows, stride 2, no padding, the textbook way, as PyTorch's kernel: in row-major window
// order a value replaces the best when larger or NaN (so the first maximum, or the last NaN, wins).
void reference_pool(Index height, Index width, const std::vector<float>& x, std::vector<float>& y,
                    std::vector<std::int32_t>& argmax) {
  const Index out_h = height / 2, out_w = width / 2;
  for (Index oh = 0; oh < out_h; ++oh) {
    for (Index ow = 0; ow < out_w; ++ow) {
      float best = 0.0f;
      std::int32_t at = -1;
      for (Index i = 0; i < 2; ++i) {
        for (Index j = 0; j < 2; ++j) {
          const auto index = static_cast<std::int32_t>((2 * oh + i) * width + 2 * ow + j);
          const float value = x[static_cast<std::size_t>(index)];
          if (at < 0 || value > best || std::isnan(value)) {
            best = value;
            at = index;
          }
        }
      }
      y[static_cast<std::size_t>(oh * out_w + ow)] = best;
      argmax[static_cast<std::size_t>(oh * out_w + ow)] = at;
    }
  }
}

bool same_value(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || a == b;
}

}  // namespace

// The 2x2 kernels run 8 windows at a time with an overlapping last block per row; rows of every
// width from 2 to 41 (fewer than 8 windows, exact multiples, remainders), odd heights, ties and NaNs.
TEST_CASE("max_pool2d_plane 2x2/2: every row width against the reference, forward and backward") {
  Rng rng(21);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (Index height = 2; height <= 5; ++height) {
    for (Index width = 2; width <= 41; ++width) {
      CAPTURE(height);
      CAPTURE(width);
      const PoolGeometry g{height, width, 2, 2, 2, 2, 0, 0};
      std::vector<float> x(static_cast<std::size_t>(height * width));
      for (float& v : x) v = static_cast<float>(rng.below(5)) - 2.0f;  // many ties
      if (x.size() > 7) x[7] = nan;
      if (x.size() > 20) x[20] = nan;
      const auto outputs = static_cast<std::size_t>(g.output_size());
      std::vector<float> y(outputs), expected_y(outputs);
      std::vector<std::int32_t> argmax(outputs), expected_argmax(outputs);
      reference_pool(height, width, x, expected_y, expected_argmax);
      max_pool2d_plane(g, x, y, argmax);
      for (std::size_t o = 0; o < outputs; ++o) {
        CAPTURE(o);
        CHECK(same_value(y[o], expected_y[o]));
        CHECK(argmax[o] == expected_argmax[o]);
      }

      std::vector<float> grad_y(outputs);
      for (float& v : grad_y) v = rng.uniform(-1.0f, 1.0f);
      std::vector<float> grad_x(x.size(), 99.0f), expected_grad_x(x.size(), 0.0f);  // assigns everything
      for (std::size_t o = 0; o < outputs; ++o)
        expected_grad_x[static_cast<std::size_t>(expected_argmax[o])] += grad_y[o];
      max_pool2d_plane_backward(g, grad_y, argmax, grad_x);
      CHECK(grad_x == expected_grad_x);
    }
  }
}
