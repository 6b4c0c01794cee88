#include "core/packed_gemm.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <stdexcept>

#include "core/simd.hpp"

// GCC on x86-64: the kernel is compiled for AVX-512F by the pragma below whatever the build's -march,
// and runs only where the CPU has it (packed_gemm_available).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DLRUN_PACKED_GEMM 1
#include <immintrin.h>
#else
#define DLRUN_PACKED_GEMM 0
#endif

namespace dlrun {

bool packed_gemm_available() {
#if DLRUN_PACKED_GEMM
  static const bool supported = __builtin_cpu_supports("avx512f");
  return supported;
#else
  return false;
#endif
}

#if DLRUN_PACKED_GEMM
#pragma GCC push_options
#pragma GCC target("avx512f,fma")
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_ps(), a self-initialised variable that
// -Wmaybe-uninitialized reports inside the header (GCC bug 105593, fixed in GCC 13).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace {

constexpr int kLanes = 16;
constexpr int kRows = 8;     // rows of the register tile
constexpr int kVectors = 3;  // vectors of 16 columns in the register tile: 8 x 3 = 24 accumulators
constexpr Index kPanelColumns = kVectors * kLanes;
// An A panel (8 x 256 floats, 8 KB) stays in L1 while the micro-kernel streams the packed B block
// (256 x 1008 floats, 1 MB) from L2 (2 MB per core here), one 48-column panel after another.
constexpr Index kDepth = 256;
constexpr Index kBlockColumns = 21 * kPanelColumns;
constexpr Index kBlockRows = 192;
constexpr Index kInPlaceRows = 64;

// 64-byte aligned floats that only grow: after the first call of the largest shape, none allocates.
class PackBuffer {
 public:
  float* reserve(Index count) {
    if (count > capacity_) {
      storage_.reset(new float[static_cast<std::size_t>(count) + 16]);
      const auto address = reinterpret_cast<std::uintptr_t>(storage_.get());
      data_ = reinterpret_cast<float*>((address + 63) & ~std::uintptr_t{63});
      capacity_ = count;
    }
    return data_;
  }

 private:
  std::unique_ptr<float[]> storage_;
  float* data_ = nullptr;
  Index capacity_ = 0;
};

Index vectors_for(Index columns) {
  return (columns + kLanes - 1) / kLanes;
}

// rows[q] becomes what was column q of the 16 x 16 block rows[0..15].
[[gnu::always_inline]] inline void transpose16(__m512 rows[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(rows[2 * i], rows[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(rows[2 * i], rows[2 * i + 1]);
  }
  __m512 u[16];
  for (int i = 0; i < 4; ++i) {
    const __m512d t0 = _mm512_castps_pd(t[4 * i]), t1 = _mm512_castps_pd(t[4 * i + 1]);
    const __m512d t2 = _mm512_castps_pd(t[4 * i + 2]), t3 = _mm512_castps_pd(t[4 * i + 3]);
    u[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
    u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
    u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
  }
  // u[4g + j] holds column j (mod 4) of rows 4g..4g+3, per 128-bit lane l (columns 4l + j).
  for (int j = 0; j < 4; ++j) {
    t[j] = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88);      // lanes 0, 2 of rows 0-3, then 4-7
    t[4 + j] = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xdd);  // lanes 1, 3
    t[8 + j] = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88);
    t[12 + j] = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xdd);
  }
  for (int j = 0; j < 4; ++j) {
    rows[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);            // lane 0: columns 0-3
    rows[4 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0x88);   // lane 1: columns 4-7
    rows[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd);        // lane 2
    rows[12 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0xdd);  // lane 3
  }
}

// One panel of B: columns [0, width) of op(B) over depth [0, depth), stored depth-major with a row of
// vectors_for(width) * 16 floats per depth step, zero beyond width. `b` points at op(B)(0, 0).
void pack_b_panel(bool transposed, Index depth, Index width, const float* b, Index ldb, float* panel) {
  const Index vectors = vectors_for(width);
  const Index stride = vectors * kLanes;
  if (!transposed) {  // op(B)(p, j) = b[p * ldb + j]: rows copied
    for (Index p = 0; p < depth; ++p) {
      for (Index v = 0; v < vectors; ++v) {
        const __m512 x = _mm512_maskz_loadu_ps(first_lanes(width - v * kLanes), b + p * ldb + v * kLanes);
        _mm512_store_ps(panel + p * stride + v * kLanes, x);
      }
    }
    return;
  }
  // op(B)(p, j) = b[j * ldb + p]: 16 x 16 blocks transposed in registers.
  for (Index v = 0; v < vectors; ++v) {
    const Index columns = std::min<Index>(kLanes, width - v * kLanes);
    for (Index p0 = 0; p0 < depth; p0 += kLanes) {
      const Index steps = std::min<Index>(kLanes, depth - p0);
      const __mmask16 mask = first_lanes(steps);
      __m512 block[16];
      for (Index t = 0; t < kLanes; ++t) {
        block[t] =
            t < columns ? _mm512_maskz_loadu_ps(mask, b + (v * kLanes + t) * ldb + p0) : _mm512_setzero_ps();
      }
      transpose16(block);
      for (Index q = 0; q < steps; ++q) _mm512_store_ps(panel + (p0 + q) * stride + v * kLanes, block[q]);
    }
  }
}

// One panel of transposed A: rows [0, rows) of op(A)(i, p) = a[p * lda + i] over depth [0, depth),
// stored depth-major, `rows` floats per depth step (contiguous already in A: one masked copy each).
void pack_a_panel(Index depth, Index rows, const float* a, Index lda, float* panel) {
  const __mmask16 mask = first_lanes(rows);
  for (Index p = 0; p < depth; ++p) {
    _mm512_mask_storeu_ps(panel + p * rows, mask, _mm512_maskz_loadu_ps(mask, a + p * lda));
  }
}

// C tile (Rows, up to Vectors * 16 columns; `last` masks the last vector) = alpha * A panel B panel
// + beta * C tile, C not read when beta == 0. Row r of A at depth step p is a[r * a_row + p * a_step]
// (a packed panel: 1 and Rows; A as stored: lda and 1). B's depth steps are b_step floats apart: a packed
// panel's width, or B's row stride where it is read in place. The last vector's load is masked, so
// lanes past the edge are zero either way and the stored lanes get the same bits.
template <int Rows, int Vectors>
void micro_tile(Index depth, const float* a, Index a_row, Index a_step, const float* b, Index b_step,
                float alpha, float beta, float* c, Index ldc, __mmask16 last) {
  __m512 sum[Rows][Vectors];
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 3
    for (int v = 0; v < Vectors; ++v) sum[r][v] = _mm512_setzero_ps();
  }
  for (Index p = 0; p < depth; ++p) {
    __m512 x[Vectors];
#pragma GCC unroll 3
    for (int v = 0; v + 1 < Vectors; ++v) x[v] = _mm512_loadu_ps(b + v * kLanes);
    x[Vectors - 1] = _mm512_maskz_loadu_ps(last, b + (Vectors - 1) * kLanes);
#pragma GCC unroll 8
    for (int r = 0; r < Rows; ++r) {
      const __m512 w = _mm512_set1_ps(a[r * a_row]);
#pragma GCC unroll 3
      for (int v = 0; v < Vectors; ++v) sum[r][v] = _mm512_fmadd_ps(w, x[v], sum[r][v]);
    }
    a += a_step;
    b += b_step;
  }
  const __m512 alpha_v = _mm512_set1_ps(alpha);
  const __m512 beta_v = _mm512_set1_ps(beta);
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 3
    for (int v = 0; v < Vectors; ++v) {
      const __mmask16 mask = v + 1 == Vectors ? last : __mmask16{0xFFFF};
      float* out = c + r * ldc + v * kLanes;
      __m512 result = _mm512_mul_ps(alpha_v, sum[r][v]);
      if (beta != 0.0f) result = _mm512_fmadd_ps(beta_v, _mm512_maskz_loadu_ps(mask, out), result);
      _mm512_mask_storeu_ps(out, mask, result);
    }
  }
}

using MicroTile = void (*)(Index, const float*, Index, Index, const float*, Index, float, float, float*,
                           Index, __mmask16);

template <int Rows>
MicroTile micro_tile_for_vectors(Index vectors) {
  switch (vectors) {
    case 1:
      return &micro_tile<Rows, 1>;
    case 2:
      return &micro_tile<Rows, 2>;
    default:
      return &micro_tile<Rows, 3>;
  }
}

MicroTile micro_tile_for(Index rows, Index vectors) {
  switch (rows) {
    case 1:
      return micro_tile_for_vectors<1>(vectors);
    case 2:
      return micro_tile_for_vectors<2>(vectors);
    case 3:
      return micro_tile_for_vectors<3>(vectors);
    case 4:
      return micro_tile_for_vectors<4>(vectors);
    case 5:
      return micro_tile_for_vectors<5>(vectors);
    case 6:
      return micro_tile_for_vectors<6>(vectors);
    case 7:
      return micro_tile_for_vectors<7>(vectors);
    default:
      return micro_tile_for_vectors<8>(vectors);
  }
}

// C = beta * C (k == 0 or alpha == 0: no products to add).
void scale(Index m, Index n, float beta, float* c, Index ldc) {
  for (Index i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    for (Index j = 0; j < n; ++j) row[j] = beta == 0.0f ? 0.0f : beta * row[j];
  }
}

}  // namespace

void packed_gemm(bool transpose_a, bool transpose_b, Index m, Index n, Index k, float alpha, const float* a,
                 Index lda, const float* b, Index ldb, float beta, float* c, Index ldc) {
  if (!packed_gemm_available()) throw std::logic_error("packed_gemm: this CPU has no AVX-512F");
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0f) {
    scale(m, n, beta, c, ldc);
    return;
  }
  thread_local PackBuffer packed_a_storage, packed_b_storage;
  // op(A)(i, p) and op(B)(p, j) as stored.
  auto a_at = [&](Index i, Index p) { return transpose_a ? a + p * lda + i : a + i * lda + p; };
  auto b_at = [&](Index p, Index j) { return transpose_b ? b + j * ldb + p : b + p * ldb + j; };
  const Index block_columns = std::min(n, kBlockColumns);
  const Index block_rows = std::min(m, kBlockRows);
  const Index depth_max = std::min(k, kDepth);
  // B as stored already has a depth step's columns contiguous; with few rows of A it is read fewer
  // times than packing it would cost (LeNet-5's c3 forward: 16 x 150 x 600).
  const bool b_in_place = !transpose_b && m <= kInPlaceRows;
  // Likewise A when not transposed: the micro-kernel broadcasts from 8 rows as stored, each read in
  // order. Packing it cost as much as a third of the multiply-adds at batch 64 (seed_cnn's fc1
  // forward, 64 x 64 x 5408 per thread: 86-89 -> 110-117 GFLOP/s per CPU second in place; no slower
  // at 512-2048 square).
  const bool a_in_place = !transpose_a;
  float* packed_b =
      b_in_place ? nullptr : packed_b_storage.reserve(depth_max * vectors_for(block_columns) * kLanes);
  float* packed_a =
      a_in_place ? nullptr : packed_a_storage.reserve(depth_max * ((block_rows + kRows - 1) / kRows) * kRows);
  for (Index jc = 0; jc < n; jc += kBlockColumns) {
    const Index nc = std::min(kBlockColumns, n - jc);
    for (Index pc = 0; pc < k; pc += kDepth) {
      const Index kc = std::min(kDepth, k - pc);
      // The first depth block applies beta; later ones add to what it wrote.
      const float block_beta = pc == 0 ? beta : 1.0f;
      for (Index jr = 0; jr < nc && !b_in_place; jr += kPanelColumns) {
        pack_b_panel(transpose_b, kc, std::min(kPanelColumns, nc - jr), b_at(pc, jc + jr), ldb,
                     packed_b + jr * kc);
      }
      for (Index ic = 0; ic < m; ic += kBlockRows) {
        const Index mc = std::min(kBlockRows, m - ic);
        for (Index ir = 0; ir < mc && !a_in_place; ir += kRows) {
          pack_a_panel(kc, std::min<Index>(kRows, mc - ir), a_at(ic + ir, pc), lda, packed_a + ir * kc);
        }
        for (Index ir = 0; ir < mc; ir += kRows) {
          const Index rows = std::min<Index>(kRows, mc - ir);
          for (Index jr = 0; jr < nc; jr += kPanelColumns) {
            const Index columns = std::min(kPanelColumns, nc - jr);
            const Index vectors = vectors_for(columns);
            const float* b_panel = b_in_place ? b_at(pc, jc + jr) : packed_b + jr * kc;
            micro_tile_for(rows, vectors)(
                kc, a_in_place ? a_at(ic + ir, pc) : packed_a + ir * kc, a_in_place ? lda : 1,
                a_in_place ? 1 : std::min<Index>(kRows, mc - ir), b_panel,
                b_in_place ? ldb : vectors * kLanes, alpha, block_beta, c + (ic + ir) * ldc + jc + jr, ldc,
                first_lanes(columns - (vectors - 1) * kLanes));
          }
        }
      }
    }
  }
}

#pragma GCC diagnostic pop
#pragma GCC pop_options
#else

void packed_gemm(bool, bool, Index, Index, Index, float, const float*, Index, const float*, Index, float,
                 float*, Index) {
  throw std::logic_error("packed_gemm: not built for this compiler or architecture");
}

#endif

}  // namespace dlrun
