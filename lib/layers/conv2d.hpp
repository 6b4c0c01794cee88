// conv2d: 2-D convolution (PyTorch's nn.Conv2d: cross-correlation, weight [F, C/groups, KH, KW]) by
// im2col + GEMM, the batch split across worker threads. Input (N, C, H, W) -> output (N, F, OH, OW).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/im2col.hpp"
#include "core/pool2d.hpp"
#include "layers/layer.hpp"
#include "layers/pooling.hpp"
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
  // Takes "relu": the output is clamped in the block that computed it, and backward masks the
  // gradient by the output while gathering it (no separate activation layer, no extra passes).
  bool fuse_activation(std::string_view function) override;
  // Takes a following maxpool2d: each block of samples is pooled right after its GEMM, while in
  // cache, and only the pooled output and the argmax of each window are kept. forward() then
  // writes the pooled shape and backward() takes the pooled gradient. Then takes a flatten, by
  // writing the output as (N, F*OH*OW): the same values, and no copy.
  bool fuse_next(const Layer& next) override;
  std::span<Parameter> parameters() override { return parameters_; }
  double flops_per_example(const Shape& input) const override;

  // For int8 inference (lib/compress): the options, 'same' padding resolved into pad_h / pad_w,
  // and the geometry of one input (ShapeError as forward()).
  const Conv2dSpec& spec() const { return spec_; }
  ConvGeometry geometry(const Shape& input) const { return geometry_for(input); }

 private:
  // Checks the input shape (rank, channels, kernel fits) and throws ShapeError naming the layer.
  ConvGeometry geometry_for(const Shape& input) const;
  // One worker's scratch, sized on first use and then reused: no allocation per batch.
  struct Workspace {
    Tensor columns;          // (C*KH*KW, S*OH*OW) for a block of S samples; in backward, grad_columns
    Tensor products;         // (F, S*OH*OW): GEMM output, or the gathered grad_output (S > 1 or fused)
    Tensor unpooled;         // (S, F, OH, OW): the block's output before a fused maxpool2d
    Tensor pooled_gradient;  // one plane of a fused maxpool2d's gradient, masked by a fused relu
    Tensor grad_weight;      // this worker's share of grad_weight
    std::vector<double> grad_bias;
  };
  // How many workers share a batch (the thread count, at most the batch); sizes workspaces_.
  Index prepare_workers(Index batch);
  // Splits the batch into one contiguous range of samples per worker and calls
  // body(workspace, begin, end) on blocks of at most `block` samples.
  template <class Body>
  void for_sample_blocks(Index batch, Index block, const Body& body);
  // Samples per GEMM: enough output positions per GEMM call to keep it efficient.
  Index block_size(const ConvGeometry& geometry, Index batch) const;
  // (N, F, H, W), or (N, F*H*W) with a fused flatten.
  void resize_output(Tensor& output, Index batch, Index height, Index width) const;
  // The geometry of a fused maxpool2d's planes.
  PoolGeometry pool_geometry(const ConvGeometry& geometry) const;
  void fill_columns(const ConvGeometry& geometry, Workspace& workspace, const Tensor& input, Index begin,
                    Index end);
  // Writes the outputs of samples [begin, end) as (S, F, OH, OW) from `destination`.
  void forward_block(const ConvGeometry& geometry, Workspace& workspace, const Tensor& input, Index begin,
                     Index end, float* destination);
  // workspace.products <- the block's gradient with respect to the convolution's output (F, S*OH*OW),
  // routed back through a fused maxpool2d and masked by a fused relu.
  void gather_gradient(const ConvGeometry& geometry, Workspace& workspace, const Tensor& output,
                       const Tensor& grad_output, Index begin, Index end);
  void backward_block(const ConvGeometry& geometry, Workspace& workspace, const Tensor& input,
                      const Tensor& output, const Tensor& grad_output, Index begin, Index end,
                      Tensor& grad_input);

  Parameter& weight() { return parameters_[0]; }  // [F, C/groups, KH, KW]
  Parameter& bias() { return parameters_[1]; }    // [F], only when spec_.bias

  std::string name_;
  Conv2dSpec spec_;
  Index in_channels_;
  Index extra_pad_h_ = 0;  // one more zero row/column after, for 'same' with an even kernel
  Index extra_pad_w_ = 0;
  bool fused_relu_ = false;
  std::optional<Pool2dSpec> fused_pool_;  // a fused maxpool2d
  bool fused_flatten_ = false;
  std::vector<std::int32_t> pool_argmax_;  // its windows' argmax, per output element (as MaxPool2d)
  std::vector<Parameter> parameters_;
  std::vector<Workspace> workspaces_;  // one per worker thread
};

// Options: filters (required), kernel (required; int or [kh, kw]), stride, padding (valid | same |
// int | [ph, pw]), dilation, groups, bias.
std::unique_ptr<Layer> make_conv2d(Options& options, const LayerBuildContext& context);

}  // namespace dlrun
