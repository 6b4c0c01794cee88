// 2-D pooling kernels over one (H, W) plane, with PyTorch's rules (ceil_mode=False): max pooling
// treats padding as -inf and remembers the first maximum; average pooling counts padded zeros in
// the divisor (count_include_pad=True). The layers in layers/pooling.cpp run them over N*C planes.
#pragma once

#include <cstdint>
#include <span>

#include "core/tensor.hpp"

namespace dlrun {

struct PoolGeometry {
  Index height = 0, width = 0;
  Index pool_h = 1, pool_w = 1;
  Index stride_h = 1, stride_w = 1;
  Index pad_h = 0, pad_w = 0;  // at most half the window (callers check): no window is all padding

  // floor((input + 2*pad - pool) / stride) + 1, or 0 when the window does not fit.
  Index output_h() const { return output_size(height, pool_h, stride_h, pad_h); }
  Index output_w() const { return output_size(width, pool_w, stride_w, pad_w); }
  Index input_size() const { return height * width; }
  Index output_size() const { return output_h() * output_w(); }

 private:
  static Index output_size(Index input, Index pool, Index stride, Index pad) {
    const Index span = input + 2 * pad - pool;
    return span < 0 ? 0 : span / stride + 1;
  }
};

// y (OH, OW) <- the maximum of each window; argmax (OH, OW) <- its index h*W + w in x (H, W): the
// first maximum in row-major window order, and a NaN wins and propagates (as PyTorch).
void max_pool2d_plane(const PoolGeometry& geometry, std::span<const float> x, std::span<float> y,
                      std::span<std::int32_t> argmax);
// grad_x (H, W) <- grad_y (OH, OW) routed through argmax. Assigns.
void max_pool2d_plane_backward(const PoolGeometry& geometry, std::span<const float> grad_y,
                               std::span<const std::int32_t> argmax, std::span<float> grad_x);

// y (OH, OW) <- the sum of each window / (pool_h * pool_w).
void avg_pool2d_plane(const PoolGeometry& geometry, std::span<const float> x, std::span<float> y);
// grad_x (H, W) <- each grad_y / (pool_h * pool_w) spread over its window. Assigns.
void avg_pool2d_plane_backward(const PoolGeometry& geometry, std::span<const float> grad_y,
                               std::span<float> grad_x);

}  // namespace dlrun
