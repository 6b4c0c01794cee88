// Int8 post-training quantization primitives: per-output-channel symmetric weights (int8 in
// [-127, 127], scale = max|w| / 127 per channel) and per-tensor affine activations (uint8 with a
// zero point, from a calibrated [min, max] that always contains 0, so that 0 is exact).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/tensor.hpp"

namespace dlrun {

struct QuantizedWeights {
  Index rows = 0;                   // output channels
  Index cols = 0;                   // inputs per channel (in, or C*KH*KW)
  std::vector<std::int8_t> values;  // rows x cols
  std::vector<float> scales;        // per row; w ~= scale * q
};

// `weight` is [out, in...]: every row (output channel) gets its own scale. An all-zero row gets
// scale 1. |w - scale * q| <= scale / 2 for every weight.
QuantizedWeights quantize_weights_per_channel(const Tensor& weight);

struct ActivationQuantization {
  float scale = 1.0f;
  std::int32_t zero_point = 0;  // in [0, 255]; q = clamp(round(x / scale) + zero_point, 0, 255)
};

// From the range the calibration observed: [min(low, 0), max(high, 0)] onto [0, 255].
ActivationQuantization activation_quantization(float low, float high);
std::uint8_t quantize_activation(float x, const ActivationQuantization& q);
inline float dequantize_activation(std::uint8_t q, const ActivationQuantization& a) {
  return a.scale * static_cast<float>(static_cast<std::int32_t>(q) - a.zero_point);
}

}  // namespace dlrun
