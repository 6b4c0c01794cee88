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

// The product int8 inference runs: uint8 activations as stored (with their zero point) times int8
// weights, C[m][n] = sum_k (A[m][k] - zero_point) * B[n][k], exactly, in int32.
//
// With AVX512-VNNI, vpdpbusd multiplies 64 u8 x s8 pairs and adds each group of 4 into an int32
// (no int16 intermediate, so no saturation): 64 multiply-adds per instruction. The weights are then
// packed in panels of 16 columns holding groups of 4 k, and the zero point is taken off afterwards
// as zero_point * (the column's weight sum). Without VNNI, the rows are shifted into int16 and the
// madd_epi16 kernel above runs.
enum class Int8Kernel { vnni, pairs };

struct Int8Weights {
  Index n = 0;
  Index k = 0;
  Int8Kernel kernel = Int8Kernel::pairs;
  std::vector<std::int32_t> column_sums;  // sum_k B[n][k]
  Index k_quads = 0;                      // vnni: ceil(k / 4)
  // vnni: panels of 16 columns: [panel][k_quad][column 0..15][4] int8, zero padded in n and k
  std::vector<std::int8_t> quads;
  PackedInt8Weights pairs;  // the pairs kernel's operand
};

bool cpu_has_vnni();

// `b` is n x k int8 ([out, in]). `kernel` is the one to pack for; by default the fastest this CPU runs.
Int8Weights pack_u8s8_weights(const std::int8_t* b, Index n, Index k);
Int8Weights pack_u8s8_weights(const std::int8_t* b, Index n, Index k, Int8Kernel kernel);

// `a` is m rows of k uint8 at a row distance `lda` >= k; `c` is m x n int32 (assigned). `scratch`
// holds the pairs kernel's int16 rows (grown as needed; pass the same one again to avoid allocations).
void gemm_u8s8(Index m, const std::uint8_t* a, Index lda, std::int32_t zero_point, const Int8Weights& b,
               std::int32_t* c, std::vector<std::int16_t>& scratch);

// gemm_u8s8's buffers when its kernel needs them (the pairs kernel's int16 rows and int32 sums).
struct Int8Scratch {
  std::vector<std::int16_t> shifted;
  std::vector<std::int32_t> sums;
  std::vector<std::uint8_t> gathered;  // QuadRows' rows, for the pairs kernel
};

// The product with its rows max pooled: m rows in groups of `group` consecutive ones (m a multiple
// of it), and row i of `c` (m / group rows of n) the maximum of group i's sums, column by column.
// A convolution followed by max pooling, its rows ordered by pooling window: the VNNI kernel folds
// the maximum into its stores, so the unpooled sums are never written.
void gemm_u8s8_max(Index m, Index group, const std::uint8_t* a, Index lda, std::int32_t zero_point,
                   const Int8Weights& b, std::int32_t* c, Int8Scratch& scratch);

// Rows read in place from an image, without copying them out: row r's quad q (4 bytes, k = 4 *
// quads) is image + corners[r] + offsets[q]. A convolution's windows, each quad (part of) one
// kernel row, its weights zero past the kernel's width; the bytes read there must exist.
struct QuadRows {
  const std::uint8_t* image = nullptr;
  const Index* corners = nullptr;  // m
  const Index* offsets = nullptr;  // k / 4
};

// gemm_u8s8_max over QuadRows (b.k a multiple of 4).
void gemm_u8s8_max(Index m, Index group, const QuadRows& a, std::int32_t zero_point, const Int8Weights& b,
                   std::int32_t* c, Int8Scratch& scratch);

}  // namespace dlrun
