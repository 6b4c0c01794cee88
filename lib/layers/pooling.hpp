// 2-D pooling over each (sample, channel) plane: maxpool2d, avgpool2d (PyTorch's nn.MaxPool2d and
// nn.AvgPool2d with ceil_mode=False, count_include_pad=True) and global_avg_pool2d.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "layers/layer.hpp"
#include "layers/registry.hpp"

namespace dlrun {

struct Pool2dSpec {
  Index pool_h = 2, pool_w = 2;      // window
  Index stride_h = 2, stride_w = 2;  // default: the window
  Index pad_h = 0, pad_w = 0;        // at most half the window, as PyTorch requires
};

// Max pooling; padding counts as -inf (it never wins). Remembers the argmax of every window for
// backward, which routes each output gradient to that one input (the first maximum on ties, as
// PyTorch).
class MaxPool2d final : public Layer {
 public:
  static constexpr std::string_view kKind = "maxpool2d";
  MaxPool2d(std::string name, const Pool2dSpec& spec) : name_(std::move(name)), spec_(spec) {}

  std::string_view kind() const override { return kKind; }
  Shape output_shape(const Shape& input) const override;
  void forward(const Tensor& input, Tensor& output, const ForwardContext& context) override;
  void backward(const Tensor& input, const Tensor& output, const Tensor& grad_output,
                Tensor& grad_input) override;
  const Pool2dSpec& spec() const { return spec_; }

 private:
  std::string name_;
  Pool2dSpec spec_;
  std::vector<std::int32_t> argmax_;  // per output element: the winning index in its input plane
};

// Average pooling; padded zeros count in the divisor (count_include_pad=True), so every window
// divides by pool_h * pool_w.
class AvgPool2d final : public Layer {
 public:
  static constexpr std::string_view kKind = "avgpool2d";
  AvgPool2d(std::string name, const Pool2dSpec& spec) : name_(std::move(name)), spec_(spec) {}

  std::string_view kind() const override { return kKind; }
  Shape output_shape(const Shape& input) const override;
  void forward(const Tensor& input, Tensor& output, const ForwardContext& context) override;
  void backward(const Tensor& input, const Tensor& output, const Tensor& grad_output,
                Tensor& grad_input) override;

 private:
  std::string name_;
  Pool2dSpec spec_;
};

// (N, C, H, W) -> (N, C): the mean of each plane.
class GlobalAvgPool2d final : public Layer {
 public:
  static constexpr std::string_view kKind = "global_avg_pool2d";
  explicit GlobalAvgPool2d(std::string name) : name_(std::move(name)) {}

  std::string_view kind() const override { return kKind; }
  Shape output_shape(const Shape& input) const override;
  void forward(const Tensor& input, Tensor& output, const ForwardContext& context) override;
  void backward(const Tensor& input, const Tensor& output, const Tensor& grad_output,
                Tensor& grad_input) override;

 private:
  std::string name_;
};

// Options of maxpool2d/avgpool2d: pool (int or [ph, pw], default 2), stride (default pool),
// padding (int or [ph, pw], default 0). global_avg_pool2d has none.
std::unique_ptr<Layer> make_maxpool2d(Options& options, const LayerBuildContext& context);
std::unique_ptr<Layer> make_avgpool2d(Options& options, const LayerBuildContext& context);
std::unique_ptr<Layer> make_global_avg_pool2d(Options& options, const LayerBuildContext& context);

}  // namespace dlrun
