// exp, sigmoid and tanh as branch-free code over a float or a vector of floats (core/simd.hpp), for
// element-wise loops such as the gates of the recurrent layers: std::exp and std::tanh are scalar
// libm calls of 10-20 ns, and an LSTM evaluates five of them per hidden unit and step. Written on
// vector types rather than left to the auto-vectoriser, which gives up on the clamp (GCC 12 turns
// it into branches). Accuracy, against libm over the whole float range: fast_exp 2e-7 relative,
// fast_sigmoid and fast_tanh 3e-7 absolute (tests/core/test_fast_math.cpp), far below what
// training or the 1e-4 fixtures notice. Lanes and scalars give identical results (no FMA).
#pragma once

#include <bit>
#include <cstdint>

#include "core/simd.hpp"
#include "core/tensor.hpp"

namespace dlrun {

template <class V>
struct LaneInt {
  using type = std::int32_t;  // float
};
template <>
struct LaneInt<Float4> {
  using type = Int4;
};
template <>
struct LaneInt<Float8> {
  using type = Int8;
};

// The value of every lane: broadcast for vectors, itself for float.
template <class V>
[[gnu::always_inline]] inline V splat(float value) {
  return V{} + value;
}

// e^x; x is clamped to [-87.3, 88.3] first, so the result is a normal float (never 0 or inf):
// e^-87.3 = 1.2e-38, e^88.3 = 2.2e38. Cephes' expf: x = k ln2 + r with |r| <= ln2/2, e^r by a
// degree-6 polynomial, 2^k put into the exponent bits.
template <class V>
[[gnu::always_inline]] inline V fast_exp(V x) {
  using I = typename LaneInt<V>::type;
  x = x < splat<V>(-87.3f) ? splat<V>(-87.3f) : x;
  x = x > splat<V>(88.3f) ? splat<V>(88.3f) : x;
  // Adding 1.5 * 2^23 rounds x/ln2 to the nearest integer k, which then sits in the low mantissa
  // bits (|k| < 2^22): no floor() and no float->int conversion.
  const V shift = splat<V>(12582912.0f);
  const V shifted = x * 1.44269504088896341f + shift;
  const V k = shifted - shift;
  // r = x - k ln2, with ln2 split in two so that k * high is exact (Cody and Waite).
  const V r = (x - k * 0.693359375f) + k * 2.12194440e-4f;
  V p = splat<V>(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  const I exponent = std::bit_cast<I>(shifted) - std::bit_cast<I>(shift);
  return p * std::bit_cast<V>((exponent + 127) << 23);
}

// 1 / (1 + e^-x), in (0, 1].
template <class V>
[[gnu::always_inline]] inline V fast_sigmoid(V x) {
  return 1.0f / (1.0f + fast_exp(-x));
}

// tanh(x) = 1 - 2 / (1 + e^2x), in [-1, 1]; the error near 0 is absolute, not relative (what sums
// over hidden units see).
template <class V>
[[gnu::always_inline]] inline V fast_tanh(V x) {
  return 1.0f - 2.0f / (1.0f + fast_exp(x + x));
}

// Runs body.template operator()<V>(j) over [0, count): 8 lanes at a time (Float8: two SSE2 registers
// in the plain build, one AVX2 register in a DLRUN_SIMD_CLONES function), then float for the rest.
// The body must be always_inline so that it is compiled for the caller's target.
template <class Body>
[[gnu::always_inline]] inline void for_each_lane_block(Index count, Body&& body) {
  Index j = 0;
  for (; j + 8 <= count; j += 8) body.template operator()<Float8>(j);
  for (; j < count; ++j) body.template operator()<float>(j);
}

}  // namespace dlrun
