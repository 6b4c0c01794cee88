// im2col / col2im: the layout change that turns a convolution into one GEMM (Caffe's util/im2col,
// Chellapilla et al. 2006, "High Performance Convolutional Neural Networks for Document Processing").
//
// For one sample, the column matrix has one row per (channel, kernel row, kernel column), in that
// order, and one column per output position (oh, ow), row-major:
//   columns[(c*KH + i)*KW + j][oh*OW + ow] = image[c][oh*SH - PH + i*DH][ow*SW - PW + j*DW]
// (zero outside the image). A convolution's weight [F, C, KH, KW] is then a (F, C*KH*KW) matrix and
// output (F, OH*OW) = weight x columns.
#pragma once

#include <span>

#include "core/tensor.hpp"

namespace dlrun {

// floor((input + pad_begin + pad_end - dilation*(kernel-1) - 1) / stride) + 1, as PyTorch.
// Returns 0 (or less) when the dilated kernel does not fit the padded input; callers turn that into
// a ShapeError that names their layer.
Index conv_output_size(Index input, Index kernel, Index stride, Index pad_begin, Index pad_end,
                       Index dilation = 1);

// Everything im2col needs for one sample, instead of a dozen positional ints. pad_h/pad_w are the
// zero rows/columns added at the top/left, and also at the bottom/right plus extra_pad_h/extra_pad_w
// (PyTorch's padding='same' with an even dilated kernel pads one more at the end).
struct ConvGeometry {
  Index channels = 0, height = 0, width = 0;
  Index kernel_h = 1, kernel_w = 1;
  Index stride_h = 1, stride_w = 1;
  Index pad_h = 0, pad_w = 0;
  Index dilation_h = 1, dilation_w = 1;
  Index extra_pad_h = 0, extra_pad_w = 0;

  Index output_h() const {
    return conv_output_size(height, kernel_h, stride_h, pad_h, pad_h + extra_pad_h, dilation_h);
  }
  Index output_w() const {
    return conv_output_size(width, kernel_w, stride_w, pad_w, pad_w + extra_pad_w, dilation_w);
  }
  Index column_rows() const { return channels * kernel_h * kernel_w; }
  Index column_cols() const { return output_h() * output_w(); }
  Index image_size() const { return channels * height * width; }
};

// image: (C, H, W) of one sample -> columns: (C*KH*KW, OH*OW). Assigns; zero padding.
// `row_stride` is the distance between consecutive rows of `columns` (default OH*OW): a batch of N
// samples can share one (C*KH*KW, N*OH*OW) matrix, sample n starting at column n*OH*OW.
// Preconditions (unchecked, hot path): output_h(), output_w() >= 1; the spans are large enough.
void im2col(const ConvGeometry& geometry, std::span<const float> image, std::span<float> columns,
            Index row_stride = 0);

// The adjoint of im2col: image (C, H, W) += scatter(columns). Accumulates; entries that fall in the
// padding are dropped. Same layout and `row_stride` as im2col.
void col2im_add(const ConvGeometry& geometry, std::span<const float> columns, std::span<float> image,
                Index row_stride = 0);

// Direct loops over every (c, i, j, oh, ow) with a bounds check each: the ground truth for tests.
void im2col_reference(const ConvGeometry& geometry, std::span<const float> image, std::span<float> columns);
void col2im_add_reference(const ConvGeometry& geometry, std::span<const float> columns,
                          std::span<float> image);

}  // namespace dlrun
