// dlrun's own single-precision GEMM for x86-64 CPUs with AVX-512F, in the BLIS/GotoBLAS structure:
// B is packed in blocks of 256 x 1008 (kept in L2), and a micro-kernel keeps an 8 x 48 tile of C in
// 24 registers across the depth, with fused multiply-adds, broadcasting from 8 rows of A (256 deep,
// kept in L1). What packing saves, it must repay: A is packed only when transposed (a masked copy
// per depth step), and B only when transposed or when A has more than 64 rows; otherwise the kernel
// reads them as stored.
//
// Why: OpenBLAS 0.3.21 does not recognise this project's Xeon and, with OPENBLAS_CORETYPE unset, runs
// its SSE3 "Prescott" kernels (~30-43 GFLOP/s on one core); the dense and convolution layers' large
// products went through them (docs/performance.md has the figures).
//
// Every C value sums its K products in the same order (blocks of kDepth in turn, each a chain of
// fused multiply-adds from zero) whatever the tile, the edge or the split of C over threads: the
// bits depend only on the operands and the shape, never on the thread count. They do differ from
// OpenBLAS's, so checkpoints name the kernel (blas_core_name(), core/blas.hpp).
#pragma once

#include "core/tensor.hpp"

namespace dlrun {

// True where this build has the kernel (GCC on x86-64) and the CPU runs AVX-512F. Decided once.
bool packed_gemm_available();

// C (m, n) = alpha * op(A) op(B) + beta * C, row-major with leading dimensions (row strides) as
// stored: op(A) is A (m, k) or, transposed, A stored (k, m); likewise op(B) (k, n) or B stored (n, k).
// beta == 0 never reads C (NaN there is overwritten). Single-threaded; packing buffers are per thread,
// grown to the largest block seen and reused. Only where packed_gemm_available().
void packed_gemm(bool transpose_a, bool transpose_b, Index m, Index n, Index k, float alpha, const float* a,
                 Index lda, const float* b, Index ldb, float beta, float* c, Index ldc);

}  // namespace dlrun
