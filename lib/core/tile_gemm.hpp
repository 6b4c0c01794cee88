// Matrix products for the small and skinny shapes of recurrent layers, where B is read in place
// (no packing) and a tile of C stays in registers across all of K: one time step's recurrence
// (N, H) x (H, 4H) with N and H around 64, and the weight gradients over all T*N rows.
//
// Why not OpenBLAS: at these sizes its packing costs about as much as the multiply-adds, and
// OpenBLAS 0.3.21 does not recognise every recent CPU (this machine's Xeon gets its SSE3
// "Prescott" kernels): an LSTM batch of the seed tutorial took 1.5x the CPU time through cblas_sgemm
// (21 against 14 ms). Like core/small_k_gemm, the kernels use AVX2 where the CPU has it, with
// separate multiplies and adds, so that every machine rounds alike, and every C value sums its K
// products in order: results depend neither on the tiling nor on how work is split over threads.
#pragma once

#include "core/tensor.hpp"

namespace dlrun {

// C (m, n) = A (m, k) B (k, n), or C += A B when accumulate. Row-major with leading dimensions
// (row strides) lda, ldb, ldc. Single-threaded.
void tile_gemm_nn(Index m, Index n, Index k, const float* a, Index lda, const float* b, Index ldb,
                  bool accumulate, float* c, Index ldc);

// C (m, n) = A^T B (or += when accumulate), A stored (k, m) with row stride lda: the weight
// gradient of a layer over many rows. Single-threaded.
void tile_gemm_tn(Index m, Index n, Index k, const float* a, Index lda, const float* b, Index ldb,
                  bool accumulate, float* c, Index ldc);

// The same products split over dlrun's threads (core/threads.hpp) by rows or by columns of C,
// whichever is longer; inline below a few hundred thousand multiply-adds.
void tile_gemm_nn_parallel(Index m, Index n, Index k, const float* a, Index lda, const float* b, Index ldb,
                           bool accumulate, float* c, Index ldc);
void tile_gemm_tn_parallel(Index m, Index n, Index k, const float* a, Index lda, const float* b, Index ldb,
                           bool accumulate, float* c, Index ldc);

// For tests: the kernels built for plain x86-64, which the CPU dispatch passes over where AVX2
// exists. Same contract and the same bits as the functions above.
void tile_gemm_nn_plain(Index m, Index n, Index k, const float* a, Index lda, const float* b, Index ldb,
                        bool accumulate, float* c, Index ldc);
void tile_gemm_tn_plain(Index m, Index n, Index k, const float* a, Index lda, const float* b, Index ldb,
                        bool accumulate, float* c, Index ldc);

}  // namespace dlrun
