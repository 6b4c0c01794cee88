// conv2d: 2-D convolution (PyTorch's nn.Conv2d: cross-correlation, weight [F, C/groups, KH, KW]) by
// im2col + GEMM over the whole mini-batch. Input (N, C, H, W) -> output (N, F, OH, OW).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/im2col.hpp"
#include "layers/layer.hpp"
#include "layers/registry.hpp"

namespace dlrun {

struct Conv2dSpec {
  Index filters = 1;  // output channels F, >= 1
  Index kernel_h = 1, kernel_w = 1;
  Index stride_h = 1, stride_w = 1;
  // padding='same' (stride 1 only): total padding dilation*(kernel-1) per axis, half before and the
  // rest after, so an even kernel gets one more row/column at the bottom/right (PyTorch's rule).
  bool same_padding = false;
  Index pad_h = 0, pad_w = 0;  // explicit symmetric padding, when !same_padding
  Index dilation_h = 1, dilation_w = 1;
  Index groups = 1;  // divides in_channels and filters
  bool bias = true;
};

class Conv2d final : public Layer {
 public:
  static constexpr std::string_view kKind = "conv2d";

  // PyTorch's default init: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
  // fan_in = in_channels/groups * KH * KW. `name` is used in error messages.
  Conv2d(std::string name, const Conv2dSpec& spec, Index in_channels, Rng& rng);

  std::string_view kind() const override { return kKind; }
  Shape output_shape(const Shape& input) const override;
  void forward(const Tensor& input, Tensor& output, const ForwardContext& context) override;
  void backward(const Tensor& input, const Tensor& output, const Tensor& grad_output,
                Tensor& grad_input) override;
  std::span<Parameter> parameters() override { return parameters_; }
  double flops_per_example(const Shape& input) const override;

 private:
  // Checks the input shape (rank, channels, kernel fits) and throws ShapeError naming the layer.
  ConvGeometry geometry_for(const Shape& input) const;
  // How many samples share one column matrix: the whole batch unless the columns would exceed a
  // fixed memory budget.
  Index chunk_size(const ConvGeometry& geometry, Index batch) const;
  // columns_ <- im2col of samples [begin, end) of `input`, side by side.
  void fill_columns(const ConvGeometry& geometry, const Tensor& input, Index begin, Index end);

  Parameter& weight() { return parameters_[0]; }  // [F, C/groups, KH, KW]
  Parameter& bias() { return parameters_[1]; }    // [F], only when spec_.bias

  std::string name_;
  Conv2dSpec spec_;
  Index in_channels_;
  Index extra_pad_h_ = 0;  // one more zero row/column after, for 'same' with an even kernel
  Index extra_pad_w_ = 0;
  std::vector<Parameter> parameters_;

  // Scratch, sized on first use and then reused: no allocation per batch.
  Tensor columns_;                   // (C*KH*KW, n*OH*OW) for a chunk of n samples; in backward, grad_columns
  Tensor output_columns_;            // (F, n*OH*OW): the GEMM result in forward, grad_output in backward
  bool columns_hold_batch_ = false;  // columns_ still holds the whole batch from forward()
};

// Options: filters (required), kernel (required; int or [kh, kw]), stride, padding (valid | same |
// int | [ph, pw]), dilation, groups, bias.
std::unique_ptr<Layer> make_conv2d(Options& options, const LayerBuildContext& context);

}  // namespace dlrun
