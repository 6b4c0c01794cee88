#include "compress/int8_gemm.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "core/errors.hpp"
#include "core/simd.hpp"

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

constexpr Index kQuadPanel = 16;
constexpr int kRows = 8;  // rows per block of the VNNI kernel

// Where the VNNI kernel reads its rows' quads: rows `lda` bytes apart (Strided), or a convolution's
// windows in place (QuadRows). `from(row)` moves the first row there.
struct Strided {
  const std::uint8_t* a;
  Index lda;
  const std::uint8_t* quad(Index r, Index q) const { return a + r * lda + 4 * q; }
  Strided from(Index row) const { return {a + row * lda, lda}; }
};

struct Windows {
  QuadRows rows;
  const std::uint8_t* quad(Index r, Index q) const { return rows.image + rows.corners[r] + rows.offsets[q]; }
  Windows from(Index row) const { return {{rows.image, rows.corners + row, rows.offsets}}; }
};

// Rows [0, R) against P panels of 16 columns (`panel_stride` apart): P x R accumulators of 16
// int32, each row's quad broadcast once for all P panels. `whole` quads of each row are read as 4
// bytes; the `rest` bytes after them (k % 4, when the row may end the buffer) byte by byte. Past k
// the weights are zero, so what the padding bytes hold does not matter. Q > 0 is `whole` known at
// compile time, with no rest (a convolution's few quads, unrolled).
template <int R, int Q, int P, class Rows>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void quad_panel_vnni(
    const Rows& a, Index whole, Index rest, const std::int8_t* panel, Index panel_stride, __m512i* out) {
  if constexpr (Q > 0) whole = Q;
  __m512i acc[P][R];
  for (int p = 0; p < P; ++p) {
    for (int r = 0; r < R; ++r) acc[p][r] = _mm512_setzero_si512();
  }
  for (Index q = 0; q < whole; ++q) {
    __m512i weights[P];
    for (int p = 0; p < P; ++p)
      weights[p] = _mm512_loadu_si512(panel + p * panel_stride + q * kQuadPanel * 4);
    for (int r = 0; r < R; ++r) {
      std::int32_t quad;
      std::memcpy(&quad, a.quad(r, q), sizeof(quad));
      const __m512i broadcast = _mm512_set1_epi32(quad);
      for (int p = 0; p < P; ++p) acc[p][r] = _mm512_dpbusd_epi32(acc[p][r], broadcast, weights[p]);
    }
  }
  if (Q == 0 && rest > 0) {
    __m512i weights[P];
    for (int p = 0; p < P; ++p)
      weights[p] = _mm512_loadu_si512(panel + p * panel_stride + whole * kQuadPanel * 4);
    for (int r = 0; r < R; ++r) {
      std::int32_t quad = 0;
      std::memcpy(&quad, a.quad(r, whole), static_cast<std::size_t>(rest));
      const __m512i broadcast = _mm512_set1_epi32(quad);
      for (int p = 0; p < P; ++p) acc[p][r] = _mm512_dpbusd_epi32(acc[p][r], broadcast, weights[p]);
    }
  }
  for (int p = 0; p < P; ++p) {
    for (int r = 0; r < R; ++r) out[p * kRows + r] = acc[p][r];
  }
}

// quad_panel_vnni for `rows` <= R rows: the count as a template argument, without a switch's copies.
template <int Q, int P, class Rows, int R = kRows>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) inline void quad_rows_vnni(Index rows, const Rows& a,
                                                                                  Index whole, Index rest,
                                                                                  const std::int8_t* panel,
                                                                                  Index panel_stride,
                                                                                  __m512i* out) {
  if constexpr (R == 1) {
    quad_panel_vnni<1, Q, P>(a, whole, rest, panel, panel_stride, out);
  } else if (rows == R) {
    quad_panel_vnni<R, Q, P>(a, whole, rest, panel, panel_stride, out);
  } else {
    quad_rows_vnni<Q, P, Rows, R - 1>(rows, a, whole, rest, panel, panel_stride, out);
  }
}

// The zero point's correction of one panel's columns and their mask.
struct PanelEnd {
  __m512i correction;
  __mmask16 mask;
};

// Rows [0, rows) of one panel, `out` their sums: row `i` goes to row i / group of `c`, the maximum
// of a group (the same before and after the correction) taken in registers when the groups fit the
// blocks, else the first of a group stored and the others folded in by maximum. `groups_per_block`
// is kRows / group when group divides kRows.
__attribute__((target("avx512f,avx512bw,avx512vnni"))) inline void store_rows_vnni(
    const __m512i* out, Index row, Index rows, const PanelEnd& end, Index group, Index groups_per_block,
    std::int32_t* c, Index ldc) {
  const __mmask16 mask = end.mask;
  if (group == 1) {
    for (Index r = 0; r < rows; ++r)
      _mm512_mask_storeu_epi32(c + (row + r) * ldc, mask, _mm512_sub_epi32(out[r], end.correction));
    return;
  }
  if (kRows % group == 0) {  // whole groups in the block (rows is a multiple of group): in registers
    // The block's first group is row / group = (row / kRows) * (kRows / group): no division by group,
    // whose latency the few multiply-adds of a convolution's rows would not hide.
    std::int32_t* to = c + (row / kRows) * groups_per_block * ldc;
    for (Index first = 0; first < rows; first += group, to += ldc) {
      __m512i best = out[first];
      for (Index r = first + 1; r < first + group; ++r) best = _mm512_maskz_max_epi32(mask, best, out[r]);
      _mm512_mask_storeu_epi32(to, mask, _mm512_sub_epi32(best, end.correction));
    }
    return;
  }
  Index target = row / group;
  Index member = row % group;
  for (Index r = 0; r < rows; ++r) {
    std::int32_t* to = c + target * ldc;
    __m512i sums = _mm512_sub_epi32(out[r], end.correction);
    if (member > 0) sums = _mm512_maskz_max_epi32(mask, sums, _mm512_maskz_loadu_epi32(mask, to));
    _mm512_mask_storeu_epi32(to, mask, sums);
    if (++member == group) {
      member = 0;
      ++target;
    }
  }
}

// P panels of 16 columns of the product (starting at `panel`), rows of kRows at a time.
template <int Q, int P, class Rows>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void panels_vnni(Index m, const Rows& a, Index whole,
                                                                        Index rest, const Int8Weights& b,
                                                                        Index panel, std::int32_t zero_point,
                                                                        Index group, std::int32_t* c) {
  const Index panel_stride = b.k_quads * kQuadPanel * 4;
  const std::int8_t* weights = b.quads.data() + panel * panel_stride;
  const Index groups_per_block = kRows % group == 0 ? kRows / group : 0;
  PanelEnd ends[P];
  for (int p = 0; p < P; ++p) {
    const Index first_column = (panel + p) * kQuadPanel;
    const Index columns = std::min(kQuadPanel, b.n - first_column);
    ends[p].mask = first_lanes(columns);
    ends[p].correction =
        _mm512_mullo_epi32(_mm512_set1_epi32(zero_point),
                           _mm512_maskz_loadu_epi32(ends[p].mask, b.column_sums.data() + first_column));
  }
  __m512i out[P * kRows];
  for (Index row = 0; row < m; row += kRows) {
    const Index rows = std::min<Index>(kRows, m - row);
    quad_rows_vnni<Q, P>(rows, a.from(row), whole, rest, weights, panel_stride, out);
    for (int p = 0; p < P; ++p)
      store_rows_vnni(out + p * kRows, row, rows, ends[p], group, groups_per_block,
                      c + (panel + p) * kQuadPanel, b.n);
  }
}

// Panels two at a time (each row's quads broadcast once for both), the last one alone when their
// count is odd. `whole` quads per row read as 4 bytes and `rest` bytes after them (Windows: whole).
template <int Q, class Rows>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void gemm_vnni_quads(Index m, const Rows& a,
                                                                            Index whole, Index rest,
                                                                            std::int32_t zero_point,
                                                                            const Int8Weights& b, Index group,
                                                                            std::int32_t* c) {
  const Index panels = (b.n + kQuadPanel - 1) / kQuadPanel;
  Index panel = 0;
  for (; panel + 2 <= panels; panel += 2)
    panels_vnni<Q, 2>(m, a, whole, rest, b, panel, zero_point, group, c);
  if (panel < panels) panels_vnni<Q, 1>(m, a, whole, rest, b, panel, zero_point, group, c);
}

template <class Rows>
void gemm_vnni(Index m, const Rows& a, Index whole, Index rest, std::int32_t zero_point, const Int8Weights& b,
               Index group, std::int32_t* c) {
  switch (rest == 0 ? whole : 0) {
    case 1:
      gemm_vnni_quads<1>(m, a, whole, rest, zero_point, b, group, c);
      break;
    case 2:
      gemm_vnni_quads<2>(m, a, whole, rest, zero_point, b, group, c);
      break;
    case 3:  // a 3x3 kernel on one channel
      gemm_vnni_quads<3>(m, a, whole, rest, zero_point, b, group, c);
      break;
    default:
      gemm_vnni_quads<0>(m, a, whole, rest, zero_point, b, group, c);
      break;
  }
}

// Rows long enough to hold every quad whole (lda >= 4 * k_quads) need no byte-wise tail: reading
// the last quad a byte at a time costs a store-forwarding stall per row, most of the time of a
// 3x3 convolution's k = 9.
void gemm_vnni_strided(Index m, const std::uint8_t* a, Index lda, std::int32_t zero_point,
                       const Int8Weights& b, Index group, std::int32_t* c) {
  const bool padded = lda >= 4 * b.k_quads;
  const Index whole = padded ? b.k_quads : b.k / 4;
  const Index rest = padded ? 0 : b.k - 4 * whole;
  gemm_vnni(m, Strided{a, lda}, whole, rest, zero_point, b, group, c);
}

}  // namespace

bool cpu_has_vnni() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vnni");
}

Int8Weights pack_u8s8_weights(const std::int8_t* b, Index n, Index k) {
  return pack_u8s8_weights(b, n, k, cpu_has_vnni() ? Int8Kernel::vnni : Int8Kernel::pairs);
}

Int8Weights pack_u8s8_weights(const std::int8_t* b, Index n, Index k, Int8Kernel kernel) {
  Int8Weights packed;
  packed.n = n;
  packed.k = k;
  packed.kernel = kernel;
  packed.column_sums.assign(static_cast<std::size_t>(n), 0);
  for (Index col = 0; col < n; ++col) {
    for (Index i = 0; i < k; ++i) packed.column_sums[static_cast<std::size_t>(col)] += b[col * k + i];
  }
  if (kernel == Int8Kernel::pairs) {
    packed.pairs = pack_int8_weights(b, n, k);
    return packed;
  }
  packed.k_quads = (k + 3) / 4;
  const Index panels = (n + kQuadPanel - 1) / kQuadPanel;
  packed.quads.assign(static_cast<std::size_t>(panels * packed.k_quads * kQuadPanel * 4), 0);
  for (Index col = 0; col < n; ++col) {
    std::int8_t* panel = packed.quads.data() + (col / kQuadPanel) * packed.k_quads * kQuadPanel * 4;
    for (Index i = 0; i < k; ++i)
      panel[((i / 4) * kQuadPanel + col % kQuadPanel) * 4 + i % 4] = b[col * k + i];
  }
  return packed;
}

namespace {

// The pairs kernel: the rows shifted by the zero point into int16, then gemm_s16_s8.
void gemm_u8s8_pairs(Index m, const std::uint8_t* a, Index lda, std::int32_t zero_point, const Int8Weights& b,
                     std::int32_t* c, std::vector<std::int16_t>& scratch) {
  const Index stride = 2 * b.pairs.k_pairs;
  if (scratch.size() < static_cast<std::size_t>(m * stride))
    scratch.resize(static_cast<std::size_t>(m * stride));
  for (Index row = 0; row < m; ++row) {
    std::int16_t* shifted = scratch.data() + row * stride;
    for (Index i = 0; i < b.k; ++i) shifted[i] = static_cast<std::int16_t>(a[row * lda + i] - zero_point);
    for (Index i = b.k; i < stride; ++i) shifted[i] = 0;
  }
  gemm_s16_s8(m, scratch.data(), b.pairs, c);
}

void require_vnni_cpu() {
  require(cpu_has_vnni(), "gemm_u8s8: weights packed for AVX512-VNNI on a CPU without it");
}

}  // namespace

void gemm_u8s8(Index m, const std::uint8_t* a, Index lda, std::int32_t zero_point, const Int8Weights& b,
               std::int32_t* c, std::vector<std::int16_t>& scratch) {
  if (m <= 0 || b.n <= 0) return;
  if (b.kernel == Int8Kernel::vnni) {
    require_vnni_cpu();
    gemm_vnni_strided(m, a, lda, zero_point, b, 1, c);
    return;
  }
  gemm_u8s8_pairs(m, a, lda, zero_point, b, c, scratch);
}

void gemm_u8s8_max(Index m, Index group, const std::uint8_t* a, Index lda, std::int32_t zero_point,
                   const Int8Weights& b, std::int32_t* c, Int8Scratch& scratch) {
  require(group >= 1 && m % group == 0, "gemm_u8s8_max: the rows are not whole groups");
  if (m <= 0 || b.n <= 0) return;
  if (b.kernel == Int8Kernel::vnni) {
    require_vnni_cpu();
    gemm_vnni_strided(m, a, lda, zero_point, b, group, c);
    return;
  }
  if (scratch.sums.size() < static_cast<std::size_t>(m * b.n))
    scratch.sums.resize(static_cast<std::size_t>(m * b.n));
  gemm_u8s8_pairs(m, a, lda, zero_point, b, scratch.sums.data(), scratch.shifted);
  for (Index row = 0; row < m / group; ++row) {
    std::int32_t* to = c + row * b.n;
    const std::int32_t* from = scratch.sums.data() + row * group * b.n;
    std::copy(from, from + b.n, to);
    for (Index member = 1; member < group; ++member) {
      for (Index col = 0; col < b.n; ++col) to[col] = std::max(to[col], from[member * b.n + col]);
    }
  }
}

void gemm_u8s8_max(Index m, Index group, const QuadRows& a, std::int32_t zero_point, const Int8Weights& b,
                   std::int32_t* c, Int8Scratch& scratch) {
  require(group >= 1 && m % group == 0, "gemm_u8s8_max: the rows are not whole groups");
  require(b.k % 4 == 0, "gemm_u8s8_max: rows of quads need k a multiple of 4");
  if (m <= 0 || b.n <= 0) return;
  if (b.kernel == Int8Kernel::vnni) {
    require_vnni_cpu();
    gemm_vnni(m, Windows{a}, b.k / 4, 0, zero_point, b, group, c);
    return;
  }
  // The pairs kernel reads rows: the quads gathered into them first.
  const Index quads = b.k / 4;
  if (scratch.gathered.size() < static_cast<std::size_t>(m * b.k))
    scratch.gathered.resize(static_cast<std::size_t>(m * b.k));
  for (Index row = 0; row < m; ++row) {
    for (Index q = 0; q < quads; ++q)
      std::memcpy(scratch.gathered.data() + row * b.k + 4 * q, a.image + a.corners[row] + a.offsets[q], 4);
  }
  gemm_u8s8_max(m, group, scratch.gathered.data(), b.k, zero_point, b, c, scratch);
}

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
