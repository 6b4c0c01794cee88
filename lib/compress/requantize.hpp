// Where int8 steps meet the rest: float activations quantized for an int8 step, and an int8 step's
// int32 sums, row by row (rows of n output channels), either requantized into uint8 for the next
// int8 step or turned back into float. The AVX-512 versions
// run where the CPU has AVX-512 (F and BW) and give the same bytes and floats as the portable
// loops: multiply and add rounded separately (never fused), rounding half to even.
#pragma once

#include <cstdint>
#include <span>

#include "compress/quantize.hpp"
#include "core/tensor.hpp"

namespace dlrun {

// Round half to even for |v| < 2^22 by adding and taking off 1.5 * 2^23, as nearbyint does in the
// default rounding mode, but inline and vectorised (the baseline x86-64 build has no roundps, and
// nearbyint is a library call per value).
inline float round_even(float v) {
  constexpr float kMagic = 12582912.0f;
  return (v + kMagic) - kMagic;
}

// x (float) -> q, and back, for a whole span: a float step's output quantized for the int8 step
// after it (the same levels as quantize_activation, ties included), and back.
void quantize_values(std::span<const float> x, const ActivationQuantization& q, std::uint8_t* out);
void dequantize_values(std::span<const std::uint8_t> q, const ActivationQuantization& a, float* out);

// out = round(clamp(sum * multiplier + offset, low, 255)), per channel multiplier and offset
// (offset holding bias / output scale + output zero point; low the zero point with relu, else 0).
void requantize_rows(const std::int32_t* sums, Index rows, Index n, const float* multiplier,
                     const float* offset, float low, std::uint8_t* out);

// out = sum * scale + bias (then max(., 0) with relu).
void dequantize_rows(const std::int32_t* sums, Index rows, Index n, const float* scale, const float* bias,
                     bool relu, float* out);

// The portable loops the functions above run without AVX-512 (tests compare the two).
void quantize_values_portable(std::span<const float> x, const ActivationQuantization& q, std::uint8_t* out);
void requantize_rows_portable(const std::int32_t* sums, Index rows, Index n, const float* multiplier,
                              const float* offset, float low, std::uint8_t* out);
void dequantize_rows_portable(const std::int32_t* sums, Index rows, Index n, const float* scale,
                              const float* bias, bool relu, float* out);

}  // namespace dlrun
