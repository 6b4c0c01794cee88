#include "compress/requantize.hpp"

#include <immintrin.h>

#include <algorithm>

#include "core/simd.hpp"

namespace dlrun {
namespace {

bool cpu_has_avx512() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
}

// The _round_ forms of multiply and add: builtins the compiler never contracts into an FMA, which
// would round once where the portable loop rounds twice.
constexpr int kNearest = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

// 16 channels at a time, the last ones masked (the maskz forms throughout: GCC 12 warns about the
// undefined vector the unmasked ones start from). max(a, b) and min(a, b) as std::max(v, a) and
// std::min(v, b) order them (the second operand is returned on equality and NaN).
__attribute__((target("avx512f,avx512bw"))) void requantize_avx512(const std::int32_t* sums, Index rows,
                                                                   Index n, const float* multiplier,
                                                                   const float* offset, float low,
                                                                   std::uint8_t* out) {
  const __m512 floor = _mm512_set1_ps(low);
  const __m512 ceiling = _mm512_set1_ps(255.0f);
  for (Index f = 0; f < n; f += 16) {
    const __mmask16 mask = first_lanes(n - f);
    const __m512 scale = _mm512_maskz_loadu_ps(mask, multiplier + f);
    const __m512 shift = _mm512_maskz_loadu_ps(mask, offset + f);
    for (Index r = 0; r < rows; ++r) {
      const __m512 sum = _mm512_maskz_cvtepi32_ps(mask, _mm512_maskz_loadu_epi32(mask, sums + r * n + f));
      __m512 v = _mm512_maskz_add_round_ps(mask, _mm512_maskz_mul_round_ps(mask, sum, scale, kNearest), shift,
                                           kNearest);
      v = _mm512_maskz_min_ps(mask, ceiling, _mm512_maskz_max_ps(mask, floor, v));
      // v is in [0, 255]: the conversion's default rounding (half to even) is round_even's.
      _mm512_mask_cvtepi32_storeu_epi8(out + r * n + f, mask, _mm512_maskz_cvtps_epi32(mask, v));
    }
  }
}

__attribute__((target("avx512f,avx512bw"))) void dequantize_avx512(const std::int32_t* sums, Index rows,
                                                                   Index n, const float* scale,
                                                                   const float* bias, bool relu, float* out) {
  const __m512 zero = _mm512_setzero_ps();
  for (Index f = 0; f < n; f += 16) {
    const __mmask16 mask = first_lanes(n - f);
    const __m512 channel_scale = _mm512_maskz_loadu_ps(mask, scale + f);
    const __m512 channel_bias = _mm512_maskz_loadu_ps(mask, bias + f);
    for (Index r = 0; r < rows; ++r) {
      const __m512 sum = _mm512_maskz_cvtepi32_ps(mask, _mm512_maskz_loadu_epi32(mask, sums + r * n + f));
      __m512 y = _mm512_maskz_add_round_ps(
          mask, _mm512_maskz_mul_round_ps(mask, sum, channel_scale, kNearest), channel_bias, kNearest);
      if (relu) y = _mm512_maskz_max_ps(mask, zero, y);
      _mm512_mask_storeu_ps(out + r * n + f, mask, y);
    }
  }
}

__attribute__((target("avx512f,avx512bw"))) void quantize_avx512(const float* x, std::size_t count,
                                                                 const ActivationQuantization& q,
                                                                 std::uint8_t* out) {
  const __m512 divisor = _mm512_set1_ps(q.scale);
  const __m512 below = _mm512_set1_ps(-256.0f);
  const __m512 above = _mm512_set1_ps(256.0f);
  const __m512i zero_point = _mm512_set1_epi32(q.zero_point);
  const __m512i top = _mm512_set1_epi32(255);
  for (std::size_t i = 0; i < count; i += 16) {
    const __mmask16 mask = first_lanes(static_cast<Index>(count - i));
    __m512 v = _mm512_maskz_div_round_ps(mask, _mm512_maskz_loadu_ps(mask, x + i), divisor, kNearest);
    v = _mm512_maskz_min_ps(mask, _mm512_maskz_max_ps(mask, v, below), above);  // NaN to -256
    // Rounded half to even, then the zero point added and clamped in integers: the portable loop
    // does both in floats, exactly (the values are integers far below 2^24).
    __m512i level = _mm512_maskz_add_epi32(mask, _mm512_maskz_cvtps_epi32(mask, v), zero_point);
    level = _mm512_maskz_min_epi32(mask, _mm512_maskz_max_epi32(mask, level, _mm512_setzero_si512()), top);
    _mm512_mask_cvtepi32_storeu_epi8(out + i, mask, level);
  }
}

}  // namespace

void quantize_values_portable(std::span<const float> x, const ActivationQuantization& q, std::uint8_t* out) {
  // Divided, not multiplied by the inverse, and rounded before the zero point is added: the same
  // levels as quantize_activation, ties included. Clamped first (NaN to the low end), so that the
  // rounding trick's range holds.
  const auto zero = static_cast<float>(q.zero_point);
  for (std::size_t i = 0; i < x.size(); ++i) {
    float v = x[i] / q.scale;
    v = v > -256.0f ? (v < 256.0f ? v : 256.0f) : -256.0f;
    v = round_even(v) + zero;
    out[i] =
        static_cast<std::uint8_t>(static_cast<std::int32_t>(v > 0.0f ? (v < 255.0f ? v : 255.0f) : 0.0f));
  }
}

void quantize_values(std::span<const float> x, const ActivationQuantization& q, std::uint8_t* out) {
  static const bool avx512 = cpu_has_avx512();
  if (avx512) {
    quantize_avx512(x.data(), x.size(), q, out);
  } else {
    quantize_values_portable(x, q, out);
  }
}

void dequantize_values(std::span<const std::uint8_t> q, const ActivationQuantization& a, float* out) {
  for (std::size_t i = 0; i < q.size(); ++i) out[i] = a.scale * static_cast<float>(q[i] - a.zero_point);
}

void requantize_rows_portable(const std::int32_t* sums, Index rows, Index n, const float* multiplier,
                              const float* offset, float low, std::uint8_t* out) {
  for (Index r = 0; r < rows; ++r) {
    for (Index f = 0; f < n; ++f) {
      const float v =
          std::min(std::max(static_cast<float>(sums[r * n + f]) * multiplier[f] + offset[f], low), 255.0f);
      out[r * n + f] = static_cast<std::uint8_t>(static_cast<std::int32_t>(round_even(v)));
    }
  }
}

void dequantize_rows_portable(const std::int32_t* sums, Index rows, Index n, const float* scale,
                              const float* bias, bool relu, float* out) {
  for (Index r = 0; r < rows; ++r) {
    for (Index f = 0; f < n; ++f) {
      const float y = static_cast<float>(sums[r * n + f]) * scale[f] + bias[f];
      out[r * n + f] = relu ? std::max(y, 0.0f) : y;
    }
  }
}

void requantize_rows(const std::int32_t* sums, Index rows, Index n, const float* multiplier,
                     const float* offset, float low, std::uint8_t* out) {
  static const bool avx512 = cpu_has_avx512();
  if (avx512) {
    requantize_avx512(sums, rows, n, multiplier, offset, low, out);
  } else {
    requantize_rows_portable(sums, rows, n, multiplier, offset, low, out);
  }
}

void dequantize_rows(const std::int32_t* sums, Index rows, Index n, const float* scale, const float* bias,
                     bool relu, float* out) {
  static const bool avx512 = cpu_has_avx512();
  if (avx512) {
    dequantize_avx512(sums, rows, n, scale, bias, relu, out);
  } else {
    dequantize_rows_portable(sums, rows, n, scale, bias, relu, out);
  }
}

}  // namespace dlrun
