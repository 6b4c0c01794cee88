#include "compress/int8_gemm.hpp"

#include <immintrin.h>

#include <algorithm>

namespace dlrun {
namespace {

constexpr Index kPanel = 8;

void gemm_scalar(Index m, const std::int16_t* a, const PackedInt8Weights& b, std::int32_t* c) {
  const Index stride = 2 * b.k_pairs;
  for (Index row = 0; row < m; ++row) {
    const std::int16_t* a_row = a + row * stride;
    for (Index col = 0; col < b.n; ++col) {
      const std::int16_t* panel = b.panels.data() + (col / kPanel) * b.k_pairs * kPanel * 2;
      const Index lane = col % kPanel;
      std::int32_t sum = 0;
      for (Index p = 0; p < b.k_pairs; ++p) {
        const std::int16_t* pair = panel + (p * kPanel + lane) * 2;
        sum += static_cast<std::int32_t>(a_row[2 * p]) * pair[0] +
               static_cast<std::int32_t>(a_row[2 * p + 1]) * pair[1];
      }
      c[row * b.n + col] = sum;
    }
  }
}

// Rows [row, row + R) against one panel: R accumulators of 8 int32.
template <int R>
__attribute__((target("avx2"))) void panel_avx2(const std::int16_t* a, Index stride,
                                                const std::int16_t* panel, Index k_pairs, __m256i* out) {
  __m256i acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_si256();
  for (Index p = 0; p < k_pairs; ++p) {
    const __m256i weights = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + p * kPanel * 2));
    for (int r = 0; r < R; ++r) {
      std::int32_t pair;
      __builtin_memcpy(&pair, a + r * stride + 2 * p, sizeof(pair));
      acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(_mm256_set1_epi32(pair), weights));
    }
  }
  for (int r = 0; r < R; ++r) out[r] = acc[r];
}

__attribute__((target("avx2"))) void gemm_avx2(Index m, const std::int16_t* a, const PackedInt8Weights& b,
                                               std::int32_t* c) {
  const Index stride = 2 * b.k_pairs;
  const Index panels = (b.n + kPanel - 1) / kPanel;
  alignas(32) std::int32_t lanes[4][kPanel];
  __m256i out[4];
  for (Index panel = 0; panel < panels; ++panel) {
    const std::int16_t* weights = b.panels.data() + panel * b.k_pairs * kPanel * 2;
    const Index columns = std::min(kPanel, b.n - panel * kPanel);
    for (Index row = 0; row < m; row += 4) {
      const Index rows = std::min<Index>(4, m - row);
      const std::int16_t* a_rows = a + row * stride;
      switch (rows) {
        case 4:
          panel_avx2<4>(a_rows, stride, weights, b.k_pairs, out);
          break;
        case 3:
          panel_avx2<3>(a_rows, stride, weights, b.k_pairs, out);
          break;
        case 2:
          panel_avx2<2>(a_rows, stride, weights, b.k_pairs, out);
          break;
        default:
          panel_avx2<1>(a_rows, stride, weights, b.k_pairs, out);
          break;
      }
      for (Index r = 0; r < rows; ++r) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(lanes[r]), out[r]);
        std::copy(lanes[r], lanes[r] + columns, c + (row + r) * b.n + panel * kPanel);
      }
    }
  }
}

}  // namespace

PackedInt8Weights pack_int8_weights(const std::int8_t* b, Index n, Index k) {
  PackedInt8Weights packed;
  packed.n = n;
  packed.k = k;
  packed.k_pairs = (k + 1) / 2;
  const Index panels = (n + kPanel - 1) / kPanel;
  packed.panels.assign(static_cast<std::size_t>(panels * packed.k_pairs * kPanel * 2), 0);
  for (Index col = 0; col < n; ++col) {
    std::int16_t* panel = packed.panels.data() + (col / kPanel) * packed.k_pairs * kPanel * 2;
    for (Index i = 0; i < k; ++i) panel[((i / 2) * kPanel + col % kPanel) * 2 + i % 2] = b[col * k + i];
  }
  return packed;
}

void gemm_s16_s8(Index m, const std::int16_t* a, const PackedInt8Weights& b, std::int32_t* c) {
  if (__builtin_cpu_supports("avx2")) {
    gemm_avx2(m, a, b, c);
  } else {
    gemm_scalar(m, a, b, c);
  }
}

void gemm_s16_s8_scalar(Index m, const std::int16_t* a, const PackedInt8Weights& b, std::int32_t* c) {
  gemm_scalar(m, a, b, c);
}

void gemm_s16_s8_reference(Index m, Index n, Index k, const std::int16_t* a, Index a_stride,
                           const std::int8_t* b, std::int32_t* c) {
  for (Index row = 0; row < m; ++row) {
    for (Index col = 0; col < n; ++col) {
      std::int64_t sum = 0;
      for (Index i = 0; i < k; ++i) sum += static_cast<std::int64_t>(a[row * a_stride + i]) * b[col * k + i];
      c[row * n + col] = static_cast<std::int32_t>(sum);
    }
  }
}

}  // namespace dlrun
