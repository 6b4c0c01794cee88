// The integer matrix product of int8 inference: C[m][n] = sum_k A[m][k] * B[n][k] in int32, where
// A holds activations shifted by their zero point (q - zero_point, in [-255, 255], as int16) and B
// int8 weights in their [out, in] layout. Exact: every product and sum fits int32 for k < 2^15.
//
// B is packed once (pack_int8_weights) into panels of 8 output columns holding pairs of k as int16,
// the operand layout of AVX2's _mm256_madd_epi16, which multiplies 16 int16 pairs and adds each
// pair into an int32 without saturation (maddubs on u8 x s8 would saturate its int16 pair sums at
// 255 * 127 * 2 > 32767). Each A pair is broadcast across the 8 columns: 16 multiply-adds per
// instruction, twice a float FMA's 8. Without AVX2 a scalar loop runs, with the same results.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.hpp"

namespace dlrun {

struct PackedInt8Weights {
  Index n = 0;        // output columns
  Index k = 0;        // inputs
  Index k_pairs = 0;  // ceil(k / 2)
  // panels of 8 columns: [panel][k_pair][column 0..7][2] int16, zero padded in n and k
  std::vector<std::int16_t> panels;
};

PackedInt8Weights pack_int8_weights(const std::int8_t* b, Index n, Index k);

// `a` is m rows of k_pairs * 2 int16 (row stride 2 * k_pairs; the padding column, if any, must
// hold 0); `c` is m x n int32 (assigned).
void gemm_s16_s8(Index m, const std::int16_t* a, const PackedInt8Weights& b, std::int32_t* c);

// The portable loop over the packed operands that runs without AVX2 (tests run it everywhere).
void gemm_s16_s8_scalar(Index m, const std::int16_t* a, const PackedInt8Weights& b, std::int32_t* c);

// Direct triple loop over the unpacked operands: the ground truth for tests.
void gemm_s16_s8_reference(Index m, Index n, Index k, const std::int16_t* a, Index a_stride,
                           const std::int8_t* b, std::int32_t* c);

}  // namespace dlrun
