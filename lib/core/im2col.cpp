#include "core/im2col.hpp"

#include <algorithm>
#include <cstring>

#include "core/simd.hpp"

namespace dlrun {
namespace {

// Copies n floats between buffers that do not overlap. The runs of a column matrix are one output
// row long (LeNet-5: 28 and 10 floats), where a call to memcpy cost more than the copy: memmove and
// its PLT stub took 15% of a LeNet-5 epoch's CPU samples once the GEMMs were fast (perf, 2 threads).
// Whole vectors of 4 (the library's baseline is SSE2), and a last one that overlaps the one before
// instead of a scalar tail.
void copy_run(float* out, const float* in, Index n) {
  if (n >= 64) {
    std::memcpy(out, in, static_cast<std::size_t>(n) * sizeof(float));
  } else if (n >= 4) {
    for (Index i = 0; i + 4 < n; i += 4) store_vector(out + i, load_vector<Float4>(in + i));
    store_vector(out + n - 4, load_vector<Float4>(in + n - 4));
  } else {
    for (Index i = 0; i < n; ++i) out[i] = in[i];
  }
}

// `rows` runs of n floats (4 <= n < 64), read in_stride apart and written one after another: a
// column-matrix row's whole output rows where the kernel tap needs no padding, with the loop bounds
// set once instead of per run.
void copy_rows(float* out, const float* in, Index rows, Index n, Index in_stride) {
  const Index last = n - 4;
  for (Index r = 0; r < rows; ++r, out += n, in += in_stride) {
    for (Index i = 0; i < last; i += 4) store_vector(out + i, load_vector<Float4>(in + i));
    store_vector(out + last, load_vector<Float4>(in + last));
  }
}

// out[i] += in[i] over `rows` runs of n floats, read one after another and added out_stride apart:
// col2im's counterpart of copy_rows.
void add_rows(float* out, const float* in, Index rows, Index n, Index out_stride) {
  for (Index r = 0; r < rows; ++r, out += out_stride, in += n) {
    Index i = 0;
    for (; i + 4 <= n; i += 4)
      store_vector(out + i, load_vector<Float4>(out + i) + load_vector<Float4>(in + i));
    for (; i < n; ++i) out[i] += in[i];
  }
}

// The padded ends of a row: a few floats each. A loop GCC turns into a call to memset; a switch
// (up to 3 floats, a vector and the rest for more) it does not.
void zero_run(float* out, Index n) {
  switch (n) {
    case 0:
      return;
    case 1:
      out[0] = 0.0f;
      return;
    case 2:
      out[0] = out[1] = 0.0f;
      return;
    case 3:
      out[0] = out[1] = out[2] = 0.0f;
      return;
    default:
      if (n >= 8) {
        std::fill(out, out + n, 0.0f);
      } else {
        store_vector(out, Float4{});
        store_vector(out + n - 4, Float4{});
      }
  }
}

// ceil(a / b) for b > 0 and any sign of a.
Index ceil_div(Index a, Index b) {
  return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

// The output positions [begin, end) along one axis whose input coordinate
// position*stride + offset lies inside [0, size). Hoists every bounds check out of the inner loops.
struct ValidRange {
  Index begin;
  Index end;
};

ValidRange valid_range(Index offset, Index stride, Index size, Index output_size) {
  const Index begin = std::clamp<Index>(ceil_div(-offset, stride), 0, output_size);
  const Index end = std::clamp<Index>(ceil_div(size - offset, stride), begin, output_size);
  return {begin, end};
}

}  // namespace

Index conv_output_size(Index input, Index kernel, Index stride, Index pad_begin, Index pad_end,
                       Index dilation) {
  const Index span = input + pad_begin + pad_end - dilation * (kernel - 1) - 1;
  if (span < 0) return 0;
  return span / stride + 1;
}

// Loop order: for each column row (c, i, j) the valid output ranges are computed once; each output
// row then copies a contiguous run (stride 1: memcpy) and zeroes only the padded ends.
void im2col(const ConvGeometry& g, std::span<const float> image, std::span<float> columns, Index row_stride) {
  const Index out_h = g.output_h();
  const Index out_w = g.output_w();
  if (row_stride == 0) row_stride = out_h * out_w;
  const float* src = image.data();
  float* dst = columns.data();
  for (Index c = 0; c < g.channels; ++c) {
    const float* plane = src + c * g.height * g.width;
    for (Index i = 0; i < g.kernel_h; ++i) {
      const Index h_offset = i * g.dilation_h - g.pad_h;
      const ValidRange rows = valid_range(h_offset, g.stride_h, g.height, out_h);
      for (Index j = 0; j < g.kernel_w; ++j) {
        const Index w_offset = j * g.dilation_w - g.pad_w;
        const ValidRange cols = valid_range(w_offset, g.stride_w, g.width, out_w);
        float* row = dst + ((c * g.kernel_h + i) * g.kernel_w + j) * row_stride;
        std::fill(row, row + rows.begin * out_w, 0.0f);
        const bool whole_rows =
            g.stride_w == 1 && cols.begin == 0 && cols.end == out_w && out_w >= 4 && out_w < 64;
        if (whole_rows) {
          copy_rows(row + rows.begin * out_w,
                    plane + (rows.begin * g.stride_h + h_offset) * g.width + w_offset, rows.end - rows.begin,
                    out_w, g.stride_h * g.width);
        }
        for (Index oh = whole_rows ? rows.end : rows.begin; oh < rows.end; ++oh) {
          float* out = row + oh * out_w;
          const float* in = plane + (oh * g.stride_h + h_offset) * g.width + w_offset;
          zero_run(out, cols.begin);
          if (g.stride_w == 1) {
            copy_run(out + cols.begin, in + cols.begin, cols.end - cols.begin);
          } else {
            for (Index ow = cols.begin; ow < cols.end; ++ow) out[ow] = in[ow * g.stride_w];
          }
          zero_run(out + cols.end, out_w - cols.end);
        }
        std::fill(row + rows.end * out_w, row + out_h * out_w, 0.0f);
      }
    }
  }
}

void col2im_add(const ConvGeometry& g, std::span<const float> columns, std::span<float> image,
                Index row_stride) {
  const Index out_h = g.output_h();
  const Index out_w = g.output_w();
  if (row_stride == 0) row_stride = out_h * out_w;
  const float* src = columns.data();
  float* dst = image.data();
  for (Index c = 0; c < g.channels; ++c) {
    float* plane = dst + c * g.height * g.width;
    for (Index i = 0; i < g.kernel_h; ++i) {
      const Index h_offset = i * g.dilation_h - g.pad_h;
      const ValidRange rows = valid_range(h_offset, g.stride_h, g.height, out_h);
      for (Index j = 0; j < g.kernel_w; ++j) {
        const Index w_offset = j * g.dilation_w - g.pad_w;
        const ValidRange cols = valid_range(w_offset, g.stride_w, g.width, out_w);
        const float* row = src + ((c * g.kernel_h + i) * g.kernel_w + j) * row_stride;
        const bool whole_rows = g.stride_w == 1 && cols.begin == 0 && cols.end == out_w;
        if (whole_rows) {
          add_rows(plane + (rows.begin * g.stride_h + h_offset) * g.width + w_offset,
                   row + rows.begin * out_w, rows.end - rows.begin, out_w, g.stride_h * g.width);
        }
        for (Index oh = whole_rows ? rows.end : rows.begin; oh < rows.end; ++oh) {
          const float* in = row + oh * out_w;
          float* out = plane + (oh * g.stride_h + h_offset) * g.width + w_offset;
          if (g.stride_w == 1) {
            for (Index ow = cols.begin; ow < cols.end; ++ow) out[ow] += in[ow];
          } else {
            for (Index ow = cols.begin; ow < cols.end; ++ow) out[ow * g.stride_w] += in[ow];
          }
        }
      }
    }
  }
}

namespace {

// Calls visit(column_index, image_index) for every entry of the column matrix, in order;
// image_index is -1 where the tap falls on padding.
template <class Visit>
void for_each_column_entry(const ConvGeometry& g, const Visit& visit) {
  const Index out_h = g.output_h();
  const Index out_w = g.output_w();
  for (Index c = 0; c < g.channels; ++c) {
    for (Index i = 0; i < g.kernel_h; ++i) {
      for (Index j = 0; j < g.kernel_w; ++j) {
        const Index row = (c * g.kernel_h + i) * g.kernel_w + j;
        for (Index oh = 0; oh < out_h; ++oh) {
          for (Index ow = 0; ow < out_w; ++ow) {
            const Index h = oh * g.stride_h - g.pad_h + i * g.dilation_h;
            const Index w = ow * g.stride_w - g.pad_w + j * g.dilation_w;
            const bool inside = h >= 0 && h < g.height && w >= 0 && w < g.width;
            visit(row * out_h * out_w + oh * out_w + ow,
                  inside ? (c * g.height + h) * g.width + w : Index{-1});
          }
        }
      }
    }
  }
}

}  // namespace

void im2col_reference(const ConvGeometry& g, std::span<const float> image, std::span<float> columns) {
  for_each_column_entry(g, [&](Index column, Index pixel) {
    columns[static_cast<std::size_t>(column)] = pixel < 0 ? 0.0f : image[static_cast<std::size_t>(pixel)];
  });
}

void col2im_add_reference(const ConvGeometry& g, std::span<const float> columns, std::span<float> image) {
  for_each_column_entry(g, [&](Index column, Index pixel) {
    if (pixel >= 0) image[static_cast<std::size_t>(pixel)] += columns[static_cast<std::size_t>(column)];
  });
}

}  // namespace dlrun
