#include "core/pool2d.hpp"

#include <algorithm>
#include <bit>

#include "core/simd.hpp"

namespace dlrun {
namespace {

// The input rows (or columns) [begin, end) of window `o`, clipped to the image.
struct Window {
  Index begin;
  Index end;
};

Window window(Index o, Index stride, Index pad, Index pool, Index size) {
  const Index start = o * stride - pad;
  return {std::max<Index>(start, 0), std::min<Index>(start + pool, size)};
}

// best, best_at <- (value, at) when value is larger, or NaN. Bit masks, not branches: on real
// activations the comparison is a coin flip that the branch predictor loses, and GCC -O2 turns a
// ternary back into a branch (6.3 ms against 2.2 ms for the seed CNN's pool on one thread).
void select_max(float value, Index at, float& best, std::int32_t& best_at) {
  const std::uint32_t mask = 0u - static_cast<std::uint32_t>((value > best) | (value != value));
  best = std::bit_cast<float>((std::bit_cast<std::uint32_t>(value) & mask) |
                              (std::bit_cast<std::uint32_t>(best) & ~mask));
  best_at = static_cast<std::int32_t>((static_cast<std::uint32_t>(at) & mask) |
                                      (static_cast<std::uint32_t>(best_at) & ~mask));
}

// One window, clipped at the edges.
void max_pool_window(const PoolGeometry& g, const float* x, Window rows, Index ow, float& y,
                     std::int32_t& a) {
  const Window cols = window(ow, g.stride_w, g.pad_w, g.pool_w, g.width);
  float best = x[rows.begin * g.width + cols.begin];  // padding <= pool/2: never empty
  auto best_at = static_cast<std::int32_t>(rows.begin * g.width + cols.begin);
  for (Index h = rows.begin; h < rows.end; ++h) {
    for (Index w = cols.begin; w < cols.end; ++w)
      select_max(x[h * g.width + w], h * g.width + w, best, best_at);
  }
  y = best;
  a = best_at;
}

// Output columns [begin, end) whose windows lie inside the image horizontally: a row at a time
// with the window cells in the outer loops, so the inner loop is long and branch-free. Same window
// order and rule as max_pool_window.
void max_pool_interior(const PoolGeometry& g, const float* x, Window rows, Index begin, Index end, float* y,
                       std::int32_t* a) {
  const Index stride = g.stride_w;
  for (Index ow = begin; ow < end; ++ow) {
    const Index at = rows.begin * g.width + ow * stride - g.pad_w;
    y[ow] = x[at];
    a[ow] = static_cast<std::int32_t>(at);
  }
  for (Index h = rows.begin; h < rows.end; ++h) {
    for (Index j = (h == rows.begin ? 1 : 0); j < g.pool_w; ++j) {
      const Index base = h * g.width + j - g.pad_w;
      for (Index ow = begin, at = base + begin * stride; ow < end; ++ow, at += stride) {
        select_max(x[at], at, y[ow], a[ow]);
      }
    }
  }
}

// The common case, windows 2 wide with stride 2 (maxpool2d pool 2), four outputs at a time with
// GCC/Clang vector extensions (SSE2 on plain x86-64, NEON on arm64): a shuffle splits even and
// odd input columns, masks do the selects. 3x the generic loop (0.6 against 2.0 ms for the seed
// CNN's (64, 32, 26, 26) input on one thread).
void select_max4(Float4 value, Int4 at, Float4& best, Int4& best_at) {
  const Int4 better = (value > best) | (value != value);
  best = better ? value : best;
  best_at = better ? at : best_at;
}

// Returns the first output column it did not do.
Index max_pool_interior_pairs(const PoolGeometry& g, const float* x, Window rows, Index begin, Index end,
                              float* y, std::int32_t* a) {
  Index ow = begin;
  for (; ow + 4 <= end; ow += 4) {
    const Index column = 2 * ow - g.pad_w;  // first input column of window ow
    const Int4 lanes = Int4{0, 2, 4, 6} + static_cast<std::int32_t>(column);
    Float4 best{};
    Int4 best_at{};
    for (Index h = rows.begin; h < rows.end; ++h) {
      const float* line = x + h * g.width + column;
      const Float4 low = load_vector<Float4>(line);
      const Float4 high = load_vector<Float4>(line + 4);
      const Int4 at = lanes + static_cast<std::int32_t>(h * g.width);
      if (h == rows.begin) {
        best = pick_lanes<0, 2, 4, 6>(low, high);
        best_at = at;
      } else {
        select_max4(pick_lanes<0, 2, 4, 6>(low, high), at, best, best_at);
      }
      select_max4(pick_lanes<1, 3, 5, 7>(low, high), at + 1, best, best_at);
    }
    store_vector(y + ow, best);
    store_vector(a + ow, best_at);
  }
  return ow;
}

// The most common pooling, 2x2 windows with stride 2 and no padding: eight windows at a time in
// 8-lane vectors (one AVX2 register each where the CPU has it, core/simd.hpp). A row whose width is
// not a multiple of 8 ends with a block that overlaps the one before (13 windows: 0-7, then 5-12):
// each window's result depends on its inputs only, so the overlap rewrites the same values, and no
// window takes the scalar path unless the row has fewer than 8. Same window order and NaN rule as
// select_max. 3.8x the general kernel on the seed CNN's 26x26 planes (104 against 394 ns a plane,
// 2048 planes, out of cache).
bool is_plain_2x2(const PoolGeometry& g) {
  return g.pool_h == 2 && g.pool_w == 2 && g.stride_h == 2 && g.stride_w == 2 && g.pad_h == 0 && g.pad_w == 0;
}

// Windows ow..ow+7 of one output row: inputs at columns 2*ow..2*ow+15 of rows top and top+width.
[[gnu::always_inline]] inline void max_pool_2x2_block(const float* top, Index width, std::int32_t row,
                                                      Index ow, float* y, std::int32_t* argmax) {
  const float* bottom = top + width;
  const Float8 top_low = load_vector<Float8>(top + 2 * ow), top_high = load_vector<Float8>(top + 2 * ow + 8);
  const Float8 bottom_low = load_vector<Float8>(bottom + 2 * ow),
               bottom_high = load_vector<Float8>(bottom + 2 * ow + 8);
  const Int8 first = Int8{0, 2, 4, 6, 8, 10, 12, 14} + static_cast<std::int32_t>(row + 2 * ow);
  const auto below = static_cast<std::int32_t>(width);
  Float8 best = pick_lanes<0, 2, 4, 6, 8, 10, 12, 14>(top_low, top_high);
  Int8 at = first;
  const Float8 candidates[3] = {pick_lanes<1, 3, 5, 7, 9, 11, 13, 15>(top_low, top_high),
                                pick_lanes<0, 2, 4, 6, 8, 10, 12, 14>(bottom_low, bottom_high),
                                pick_lanes<1, 3, 5, 7, 9, 11, 13, 15>(bottom_low, bottom_high)};
  const Int8 places[3] = {first + 1, first + below, first + below + 1};
  for (int k = 0; k < 3; ++k) {
    const Int8 better = (candidates[k] > best) | (candidates[k] != candidates[k]);
    best = better ? candidates[k] : best;
    at = better ? places[k] : at;
  }
  store_vector(y + ow, best);
  store_vector(argmax + ow, at);
}

// One window, for rows of fewer than 8.
inline void max_pool_2x2_window(const float* top, Index width, std::int32_t row, Index ow, float* y,
                                std::int32_t* argmax) {
  const float* bottom = top + width;
  const auto column = static_cast<std::int32_t>(row + 2 * ow);
  float best = top[2 * ow];
  std::int32_t at = column;
  const float candidates[3] = {top[2 * ow + 1], bottom[2 * ow], bottom[2 * ow + 1]};
  const std::int32_t places[3] = {column + 1, column + static_cast<std::int32_t>(width),
                                  column + static_cast<std::int32_t>(width) + 1};
  for (int k = 0; k < 3; ++k) {
    const bool better = (candidates[k] > best) | (candidates[k] != candidates[k]);
    best = better ? candidates[k] : best;
    at = better ? places[k] : at;
  }
  y[ow] = best;
  argmax[ow] = at;
}

DLRUN_SIMD_CLONES void max_pool_2x2(Index height, Index width, const float* __restrict x, float* __restrict y,
                                    std::int32_t* __restrict argmax) {
  const Index out_h = height / 2;
  const Index out_w = width / 2;
  for (Index oh = 0; oh < out_h; ++oh) {
    const float* top = x + 2 * oh * width;
    const auto row = static_cast<std::int32_t>(2 * oh * width);
    float* y_row = y + oh * out_w;
    std::int32_t* argmax_row = argmax + oh * out_w;
    if (out_w < 8) {
      for (Index ow = 0; ow < out_w; ++ow) max_pool_2x2_window(top, width, row, ow, y_row, argmax_row);
      continue;
    }
    Index ow = 0;
    for (; ow + 8 <= out_w; ow += 8) max_pool_2x2_block(top, width, row, ow, y_row, argmax_row);
    if (ow < out_w) max_pool_2x2_block(top, width, row, out_w - 8, y_row, argmax_row);
  }
}

// Windows ow..ow+7: each gradient to its argmax among the 16 inputs of each of the two rows.
[[gnu::always_inline]] inline void max_pool_2x2_backward_block(const float* grad_y,
                                                               const std::int32_t* argmax, Index width,
                                                               std::int32_t row, Index ow, float* top) {
  const Float8 g = load_vector<Float8>(grad_y + ow);
  const auto at = load_vector<Int8>(argmax + ow);
  const Int8 first = Int8{0, 2, 4, 6, 8, 10, 12, 14} + static_cast<std::int32_t>(row + 2 * ow);
  const auto below = static_cast<std::int32_t>(width);
  const Float8 zero{};
  const Float8 top_even = at == first ? g : zero;
  const Float8 top_odd = at == first + 1 ? g : zero;
  const Float8 bottom_even = at == first + below ? g : zero;
  const Float8 bottom_odd = at == first + below + 1 ? g : zero;
  store_vector(top + 2 * ow, pick_lanes<0, 8, 1, 9, 2, 10, 3, 11>(top_even, top_odd));
  store_vector(top + 2 * ow + 8, pick_lanes<4, 12, 5, 13, 6, 14, 7, 15>(top_even, top_odd));
  store_vector(top + width + 2 * ow, pick_lanes<0, 8, 1, 9, 2, 10, 3, 11>(bottom_even, bottom_odd));
  store_vector(top + width + 2 * ow + 8, pick_lanes<4, 12, 5, 13, 6, 14, 7, 15>(bottom_even, bottom_odd));
}

// Assigns every input: each window's gradient to its argmax, zeros elsewhere (a last odd row or
// column is in no window). Blocks of 8 windows, overlapping at the end of a row, as forward.
DLRUN_SIMD_CLONES void max_pool_2x2_backward(Index height, Index width, const float* __restrict grad_y,
                                             const std::int32_t* __restrict argmax,
                                             float* __restrict grad_x) {
  const Index out_h = height / 2;
  const Index out_w = width / 2;
  for (Index oh = 0; oh < out_h; ++oh) {
    float* top = grad_x + 2 * oh * width;
    float* bottom = top + width;
    const auto row = static_cast<std::int32_t>(2 * oh * width);
    const float* g_row = grad_y + oh * out_w;
    const std::int32_t* argmax_row = argmax + oh * out_w;
    if (out_w < 8) {
      for (Index ow = 0; ow < out_w; ++ow) {
        const auto column = static_cast<std::int32_t>(row + 2 * ow);
        const float g = g_row[ow];
        const std::int32_t at = argmax_row[ow];
        const auto below = static_cast<std::int32_t>(width);
        top[2 * ow] = at == column ? g : 0.0f;
        top[2 * ow + 1] = at == column + 1 ? g : 0.0f;
        bottom[2 * ow] = at == column + below ? g : 0.0f;
        bottom[2 * ow + 1] = at == column + below + 1 ? g : 0.0f;
      }
    } else {
      Index ow = 0;
      for (; ow + 8 <= out_w; ow += 8) max_pool_2x2_backward_block(g_row, argmax_row, width, row, ow, top);
      if (ow < out_w) max_pool_2x2_backward_block(g_row, argmax_row, width, row, out_w - 8, top);
    }
    if (width % 2 != 0) top[width - 1] = bottom[width - 1] = 0.0f;
  }
  if (height % 2 != 0) std::fill_n(grad_x + (height - 1) * width, width, 0.0f);
}

}  // namespace

void max_pool2d_plane(const PoolGeometry& g, std::span<const float> x_values, std::span<float> y_values,
                      std::span<std::int32_t> argmax) {
  if (is_plain_2x2(g)) {
    max_pool_2x2(g.height, g.width, x_values.data(), y_values.data(), argmax.data());
    return;
  }
  const Index out_h = g.output_h();
  const Index out_w = g.output_w();
  // Output columns [interior_begin, interior_end) have their whole window inside the image
  // horizontally; the others (next to a padded edge) are done one window at a time.
  const Index interior_begin = std::min<Index>((g.pad_w + g.stride_w - 1) / g.stride_w, out_w);
  const Index last_start = g.width + g.pad_w - g.pool_w;
  const Index interior_end =
      std::clamp<Index>(last_start < 0 ? 0 : last_start / g.stride_w + 1, interior_begin, out_w);
  const bool pairs = g.pool_w == 2 && g.stride_w == 2;
  const float* x = x_values.data();
  for (Index oh = 0; oh < out_h; ++oh) {
    const Window rows = window(oh, g.stride_h, g.pad_h, g.pool_h, g.height);
    float* y = y_values.data() + oh * out_w;
    std::int32_t* a = argmax.data() + oh * out_w;
    for (Index ow = 0; ow < interior_begin; ++ow) max_pool_window(g, x, rows, ow, y[ow], a[ow]);
    for (Index ow = interior_end; ow < out_w; ++ow) max_pool_window(g, x, rows, ow, y[ow], a[ow]);
    const Index rest =
        pairs ? max_pool_interior_pairs(g, x, rows, interior_begin, interior_end, y, a) : interior_begin;
    max_pool_interior(g, x, rows, rest, interior_end, y, a);
  }
}

void max_pool2d_plane_backward(const PoolGeometry& g, std::span<const float> grad_y,
                               std::span<const std::int32_t> argmax, std::span<float> grad_x) {
  if (is_plain_2x2(g)) {
    max_pool_2x2_backward(g.height, g.width, grad_y.data(), argmax.data(), grad_x.data());
    return;
  }
  std::fill_n(grad_x.data(), g.input_size(), 0.0f);
  const Index count = g.output_size();
  for (Index o = 0; o < count; ++o) grad_x[argmax[o]] += grad_y[o];  // windows may overlap: accumulate
}

void avg_pool2d_plane(const PoolGeometry& g, std::span<const float> x, std::span<float> y) {
  const float scale = 1.0f / static_cast<float>(g.pool_h * g.pool_w);
  const Index out_w = g.output_w();
  for (Index oh = 0; oh < g.output_h(); ++oh) {
    const Window rows = window(oh, g.stride_h, g.pad_h, g.pool_h, g.height);
    for (Index ow = 0; ow < out_w; ++ow) {
      const Window cols = window(ow, g.stride_w, g.pad_w, g.pool_w, g.width);
      float sum = 0.0f;
      for (Index h = rows.begin; h < rows.end; ++h) {
        for (Index w = cols.begin; w < cols.end; ++w) sum += x[h * g.width + w];
      }
      y[oh * out_w + ow] = sum * scale;
    }
  }
}

void avg_pool2d_plane_backward(const PoolGeometry& g, std::span<const float> grad_y,
                               std::span<float> grad_x) {
  std::fill_n(grad_x.data(), g.input_size(), 0.0f);
  const float scale = 1.0f / static_cast<float>(g.pool_h * g.pool_w);
  const Index out_w = g.output_w();
  for (Index oh = 0; oh < g.output_h(); ++oh) {
    const Window rows = window(oh, g.stride_h, g.pad_h, g.pool_h, g.height);
    for (Index ow = 0; ow < out_w; ++ow) {
      const Window cols = window(ow, g.stride_w, g.pad_w, g.pool_w, g.width);
      const float share = grad_y[oh * out_w + ow] * scale;
      for (Index h = rows.begin; h < rows.end; ++h) {
        for (Index w = cols.begin; w < cols.end; ++w) grad_x[h * g.width + w] += share;
      }
    }
  }
}

}  // namespace dlrun
