// GEMM over dlrun's packed AVX-512 kernel (core/packed_gemm) where the CPU has AVX-512F, else over
// OpenBLAS's cblas_sgemm (the only file that includes <cblas.h> is blas.cpp), plus a naive
// reference kept for tests, as llm.c keeps matmul_forward_naive.
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

// The kernels gemm() runs. packed: dlrun's own (core/packed_gemm), the default where the CPU has
// AVX-512F; openblas: cblas_sgemm, the default elsewhere, and everywhere with DLRUN_GEMM=openblas in
// the environment (read once), e.g. to resume bit for bit a checkpoint written under OpenBLAS.
enum class GemmKernel { openblas, packed };
GemmKernel gemm_kernel();
// For benchmarks and tests. Throws std::invalid_argument for packed where the CPU lacks AVX-512F.
void set_gemm_kernel(GemmKernel kernel);

// The name of the kernels gemm() runs, on which its last bits depend: "dlrun-avx512" for the packed
// kernel, else the OpenBLAS core chosen at run time for this CPU ("Haswell", "SkylakeX", ...; what
// the OPENBLAS_CORETYPE environment variable overrides).
std::string blas_core_name();
// The name dlrun gives its packed kernel in blas_core_name().
inline constexpr const char* kPackedGemmCoreName = "dlrun-avx512";

// How many threads OpenBLAS itself may use for one call (dlrun keeps it at 1: see threads.cpp).
void set_blas_threads(int threads);

}  // namespace dlrun
