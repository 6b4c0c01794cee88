#include "core/tile_gemm.hpp"

#include <algorithm>

#include "core/simd.hpp"
#include "core/threads.hpp"

// GCC on x86-64 without -mavx2: an AVX2 build of the kernels beside the plain one.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__AVX2__)
#define DLRUN_TILE_GEMM_DISPATCH 1
#else
#define DLRUN_TILE_GEMM_DISPATCH 0
#endif

namespace dlrun {
namespace {

constexpr Index kLanes = 8;
constexpr int kTileRows = 4;  // 4 rows x 2 vectors: 8 accumulators, 2 loads and a broadcast in flight

// The kernels twice: for AVX2 and for plain x86-64 (or whatever the compiler targets), picked
// once by the CPU. Both give the same bits.
namespace avx2 {
#if DLRUN_TILE_GEMM_DISPATCH
#pragma GCC push_options
#pragma GCC target("avx2")
#include "core/tile_gemm_kernels.inc"
#pragma GCC pop_options
#endif
}  // namespace avx2
namespace plain {
#include "core/tile_gemm_kernels.inc"
}  // namespace plain

bool use_avx2() {
#if DLRUN_TILE_GEMM_DISPATCH
  static const bool supported = __builtin_cpu_supports("avx2");
  return supported;
#else
  return false;
#endif
}

template <bool Transposed>
void tile_gemm_dispatch(Index m, Index n, Index k, const float* a, Index lda, const float* b, Index ldb,
                        bool accumulate, float* c, Index ldc) {
#if DLRUN_TILE_GEMM_DISPATCH
  if (use_avx2()) {
    avx2::tile_gemm<Transposed>(m, n, k, a, lda, b, ldb, accumulate, c, ldc);
    return;
  }
#endif
  plain::tile_gemm<Transposed>(m, n, k, a, lda, b, ldb, accumulate, c, ldc);
}

// Splits C by rows (in whole tiles) or by columns (in whole vectors), whichever is longer.
template <bool Transposed>
void tile_gemm_parallel(Index m, Index n, Index k, const float* a, Index lda, const float* b, Index ldb,
                        bool accumulate, float* c, Index ldc) {
  constexpr Index kMinParallelMultiplyAdds = Index{1} << 18;
  if (m * n * k < kMinParallelMultiplyAdds || thread_count() == 1) {
    (Transposed ? tile_gemm_tn : tile_gemm_nn)(m, n, k, a, lda, b, ldb, accumulate, c, ldc);
    return;
  }
  if (m >= n) {
    const Index tiles = (m + kTileRows - 1) / kTileRows;
    parallel_for(tiles, [&](Index begin, Index end) {
      const Index i0 = begin * kTileRows;
      const Index i1 = std::min(end * kTileRows, m);
      const float* a_rows = Transposed ? a + i0 : a + i0 * lda;
      (Transposed ? tile_gemm_tn : tile_gemm_nn)(i1 - i0, n, k, a_rows, lda, b, ldb, accumulate, c + i0 * ldc,
                                                 ldc);
    });
  } else {
    const Index blocks = (n + 2 * kLanes - 1) / (2 * kLanes);
    parallel_for(blocks, [&](Index begin, Index end) {
      const Index j0 = begin * 2 * kLanes;
      const Index j1 = std::min(end * 2 * kLanes, n);
      (Transposed ? tile_gemm_tn : tile_gemm_nn)(m, j1 - j0, k, a, lda, b + j0, ldb, accumulate, c + j0, ldc);
    });
  }
}

}  // namespace

void tile_gemm_nn(Index m, Index n, Index k, const float* a, Index lda, const float* b, Index ldb,
                  bool accumulate, float* c, Index ldc) {
  tile_gemm_dispatch<false>(m, n, k, a, lda, b, ldb, accumulate, c, ldc);
}

void tile_gemm_tn(Index m, Index n, Index k, const float* a, Index lda, const float* b, Index ldb,
                  bool accumulate, float* c, Index ldc) {
  tile_gemm_dispatch<true>(m, n, k, a, lda, b, ldb, accumulate, c, ldc);
}

void tile_gemm_nn_parallel(Index m, Index n, Index k, const float* a, Index lda, const float* b, Index ldb,
                           bool accumulate, float* c, Index ldc) {
  tile_gemm_parallel<false>(m, n, k, a, lda, b, ldb, accumulate, c, ldc);
}

void tile_gemm_tn_parallel(Index m, Index n, Index k, const float* a, Index lda, const float* b, Index ldb,
                           bool accumulate, float* c, Index ldc) {
  tile_gemm_parallel<true>(m, n, k, a, lda, b, ldb, accumulate, c, ldc);
}

}  // namespace dlrun

namespace dlrun {

void tile_gemm_nn_plain(Index m, Index n, Index k, const float* a, Index lda, const float* b, Index ldb,
                        bool accumulate, float* c, Index ldc) {
  plain::tile_gemm<false>(m, n, k, a, lda, b, ldb, accumulate, c, ldc);
}

void tile_gemm_tn_plain(Index m, Index n, Index k, const float* a, Index lda, const float* b, Index ldb,
                        bool accumulate, float* c, Index ldc) {
  plain::tile_gemm<true>(m, n, k, a, lda, b, ldb, accumulate, c, ldc);
}

}  // namespace dlrun
