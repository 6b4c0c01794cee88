#include "core/small_k_gemm.hpp"

#include "core/simd.hpp"

namespace dlrun {
namespace {

constexpr Index kLanes = 8;

[[gnu::always_inline]] inline Float8 broadcast8(float value) {
  return Float8{} + value;
}

// C[rows, Vectors*8 columns] of gemm_small_k, held in registers across all of k. The plain loop at
// the end repeats the same operations in the same order for the last n % 8 columns.
template <int Rows, int Vectors>
[[gnu::always_inline]] inline void product_tile(Index k, const float* a, const float* b, Index ldb,
                                                const float* bias, bool relu, float* c, Index ldc) {
  Float8 sum[Rows][Vectors];
  for (int r = 0; r < Rows; ++r) {
    for (int v = 0; v < Vectors; ++v) sum[r][v] = broadcast8(bias != nullptr ? bias[r] : 0.0f);
  }
  for (Index p = 0; p < k; ++p) {
    Float8 x[Vectors];
    for (int v = 0; v < Vectors; ++v) x[v] = load_vector<Float8>(b + p * ldb + v * kLanes);
    for (int r = 0; r < Rows; ++r) {
      const Float8 w = broadcast8(a[r * k + p]);
      for (int v = 0; v < Vectors; ++v) sum[r][v] += w * x[v];
    }
  }
  for (int r = 0; r < Rows; ++r) {
    for (int v = 0; v < Vectors; ++v) {
      if (relu) sum[r][v] = sum[r][v] < 0.0f ? Float8{} : sum[r][v];  // std::max(x, 0): NaN stays
      store_vector(c + r * ldc + v * kLanes, sum[r][v]);
    }
  }
}

[[gnu::always_inline]] inline void product_column(Index rows, Index k, const float* a, const float* b,
                                                  Index ldb, const float* bias, bool relu, float* c,
                                                  Index ldc) {
  for (Index r = 0; r < rows; ++r) {
    float sum = bias != nullptr ? bias[r] : 0.0f;
    for (Index p = 0; p < k; ++p) sum += a[r * k + p] * b[p * ldb];
    if (relu) sum = sum < 0.0f ? 0.0f : sum;
    c[r * ldc] = sum;
  }
}

template <int Rows>
[[gnu::always_inline]] inline void product_rows(Index n, Index k, const float* a, const float* b, Index ldb,
                                                const float* bias, bool relu, float* c, Index ldc) {
  Index j = 0;
  for (; j + 3 * kLanes <= n; j += 3 * kLanes)
    product_tile<Rows, 3>(k, a, b + j, ldb, bias, relu, c + j, ldc);
  for (; j + kLanes <= n; j += kLanes) product_tile<Rows, 1>(k, a, b + j, ldb, bias, relu, c + j, ldc);
  for (; j < n; ++j) product_column(Rows, k, a, b + j, ldb, bias, relu, c + j, ldc);
}

// (C[Rows, Cols] += G[Rows, n] B[Cols, n]^T), eight columns of n at a time in registers, then the
// last n % 8 one by one; lanes are summed at the end.
template <int Rows, int Cols>
[[gnu::always_inline]] inline void weight_grad_tile(Index k, Index n, const float* g, Index ldg,
                                                    const float* b, Index ldb, float* c) {
  Float8 sum[Rows][Cols] = {};
  Index j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    Float8 x[Cols];
    for (int q = 0; q < Cols; ++q) x[q] = load_vector<Float8>(b + q * ldb + j);
    for (int r = 0; r < Rows; ++r) {
      const Float8 y = load_vector<Float8>(g + r * ldg + j);
      for (int q = 0; q < Cols; ++q) sum[r][q] += y * x[q];
    }
  }
  for (int r = 0; r < Rows; ++r) {
    for (int q = 0; q < Cols; ++q) {
      float total = 0.0f;
      for (Index lane = 0; lane < kLanes; ++lane) total += sum[r][q][lane];
      for (Index t = j; t < n; ++t) total += g[r * ldg + t] * b[q * ldb + t];
      c[r * k + q] += total;
    }
  }
}

template <int Rows>
[[gnu::always_inline]] inline void weight_grad_rows(Index k, Index n, const float* g, Index ldg,
                                                    const float* b, Index ldb, float* c) {
  Index q = 0;
  for (; q + 3 <= k; q += 3) weight_grad_tile<Rows, 3>(k, n, g, ldg, b + q * ldb, ldb, c + q);
  for (; q < k; ++q) weight_grad_tile<Rows, 1>(k, n, g, ldg, b + q * ldb, ldb, c + q);
}

}  // namespace

DLRUN_SIMD_CLONES void gemm_small_k(Index m, Index n, Index k, const float* a, const float* b, Index ldb,
                                    const float* bias, bool relu, float* c, Index ldc) {
  constexpr Index kRows = 4;
  Index i = 0;
  for (; i + kRows <= m; i += kRows) {
    product_rows<kRows>(n, k, a + i * k, b, ldb, bias != nullptr ? bias + i : nullptr, relu, c + i * ldc,
                        ldc);
  }
  for (; i < m; ++i) {
    product_rows<1>(n, k, a + i * k, b, ldb, bias != nullptr ? bias + i : nullptr, relu, c + i * ldc, ldc);
  }
}

DLRUN_SIMD_CLONES void gemm_small_k_weight_grad(Index m, Index k, Index n, const float* g, Index ldg,
                                                const float* b, Index ldb, float* c) {
  constexpr Index kRows = 3;
  Index i = 0;
  for (; i + kRows <= m; i += kRows) weight_grad_rows<kRows>(k, n, g + i * ldg, ldg, b, ldb, c + i * k);
  for (; i < m; ++i) weight_grad_rows<1>(k, n, g + i * ldg, ldg, b, ldb, c + i * k);
}

}  // namespace dlrun
