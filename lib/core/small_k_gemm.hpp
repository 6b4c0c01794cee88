// Matrix products with a small inner dimension K, the shape of a convolution over few input
// channels (the seed CNN's first layer: K = 1*3*3 = 9, N = 26*26 positions, M = 32 filters).
// OpenBLAS packs both operands and makes extra passes for beta, a bias and an activation; at
// K = 9 that overhead outweighs the multiply-adds. These kernels read B's rows in place, keep a
// tile of C in registers across all of K, and apply the bias and relu before the one store.
// Single-threaded (callers split the work); AVX2 where the CPU has it (core/simd.hpp), with
// separate multiplies and adds so that every machine rounds alike.
#pragma once

#include "core/tensor.hpp"

namespace dlrun {

// Whether these kernels beat OpenBLAS for m rows (filters) and inner dimension k, measured at a
// convolution's N = 676 positions, single-threaded, forward with bias and relu / weight gradient:
//   m = 32, k = 9:  7.0 / 5.0 us against 9.3 / 9.2     m = 32, k = 25: 17.0 / 14.5 against 15.7 / 17.1
//   m = 6,  k = 25: 3.4 / 2.6 us against 4.4 / 8.1     m = 6,  k = 64:  9.0 / 6.7  against 12.1 / 17.3
// OpenBLAS's tiles are 16 rows tall: few filters waste most of them.
constexpr bool use_small_k_gemm(Index m, Index k) {
  return k <= 16 || (m <= 8 && k <= 64);
}

// C (m, n) = A (m, k) B (k, n) [+ bias (m) per row] [then max(., 0)]. A is contiguous; B and C are
// row-major with row strides ldb and ldc. bias may be null. Each C value sums bias then the k
// products in order.
void gemm_small_k(Index m, Index n, Index k, const float* a, const float* b, Index ldb, const float* bias,
                  bool relu, float* c, Index ldc);

// C (m, k) += G (m, n) B (k, n)^T: a convolution's weight gradient. G and B are row-major with row
// strides ldg and ldb; C is contiguous.
void gemm_small_k_weight_grad(Index m, Index k, Index n, const float* g, Index ldg, const float* b, Index ldb,
                              float* c);

}  // namespace dlrun
