// GEMM over OpenBLAS's cblas_sgemm (the only file that includes <cblas.h> is blas.cpp), plus a
// naive reference kept for tests, as llm.c keeps matmul_forward_naive.
#pragma once

#include <span>
#include <string>

#include "core/tensor.hpp"

namespace dlrun {

enum class Transpose { no, yes };

// C = alpha * op(A) * op(B) + beta * C. Row-major, contiguous.
//   op(A): (m, k)   op(B): (k, n)   C: (m, n)
// Throws ShapeError when a span is smaller than its matrix.
void gemm(Transpose transpose_a, Transpose transpose_b, Index m, Index n, Index k, float alpha,
          std::span<const float> a, std::span<const float> b, float beta, std::span<float> c);

// Same contract, triple loop in double; the ground truth for tests.
void gemm_reference(Transpose transpose_a, Transpose transpose_b, Index m, Index n, Index k, float alpha,
                    std::span<const float> a, std::span<const float> b, float beta, std::span<float> c);

// The OpenBLAS kernels chosen at run time for this CPU ("Haswell", "SkylakeX", ...; what the
// OPENBLAS_CORETYPE environment variable overrides): sgemm's last bits depend on it.
std::string blas_core_name();

// How many threads OpenBLAS itself may use for one call (dlrun keeps it at 1: see threads.cpp).
void set_blas_threads(int threads);

}  // namespace dlrun
