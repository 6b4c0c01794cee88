#include "compress/quantize.hpp"

#include <algorithm>
#include <cmath>

#include "core/errors.hpp"

namespace dlrun {

QuantizedWeights quantize_weights_per_channel(const Tensor& weight) {
  require(weight.shape().rank() >= 2, "quantize_weights_per_channel: weight without [out, in...]");
  QuantizedWeights q;
  q.rows = weight.shape()[0];
  q.cols = weight.size() / q.rows;
  q.values.resize(static_cast<std::size_t>(weight.size()));
  q.scales.resize(static_cast<std::size_t>(q.rows));
  for (Index r = 0; r < q.rows; ++r) {
    const float* row = weight.data() + r * q.cols;
    float largest = 0.0f;
    for (Index c = 0; c < q.cols; ++c) largest = std::max(largest, std::fabs(row[c]));
    const float scale = largest > 0.0f ? largest / 127.0f : 1.0f;
    q.scales[static_cast<std::size_t>(r)] = scale;
    for (Index c = 0; c < q.cols; ++c) {
      const float level = std::clamp(std::nearbyint(row[c] / scale), -127.0f, 127.0f);
      q.values[static_cast<std::size_t>(r * q.cols + c)] = static_cast<std::int8_t>(level);
    }
  }
  return q;
}

ActivationQuantization activation_quantization(float low, float high) {
  low = std::min(low, 0.0f);
  high = std::max(high, 0.0f);
  ActivationQuantization q;
  if (high - low <= 0.0f) return q;  // all zeros: any scale, zero point 0
  q.scale = (high - low) / 255.0f;
  q.zero_point = static_cast<std::int32_t>(std::clamp(std::nearbyint(-low / q.scale), 0.0f, 255.0f));
  return q;
}

std::uint8_t quantize_activation(float x, const ActivationQuantization& q) {
  const float level = std::nearbyint(x / q.scale) + static_cast<float>(q.zero_point);
  return static_cast<std::uint8_t>(std::clamp(level, 0.0f, 255.0f));
}

}  // namespace dlrun
