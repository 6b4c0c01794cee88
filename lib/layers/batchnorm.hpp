// batchnorm: batch normalisation (Ioffe & Szegedy 2015; PyTorch's nn.BatchNorm1d/2d semantics)
// over channels C of (N, C, H, W) and features F of (N, F); for sequences (N, T, F) over the last axis
// F (statistics over N*T; note PyTorch's BatchNorm1d would take axis 1 of a 3-D input instead).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "layers/layer.hpp"
#include "layers/registry.hpp"

namespace dlrun {

struct BatchNormSpec {
  double momentum = 0.1;  // PyTorch's: running = (1 - momentum) * running + momentum * batch
  double eps = 1e-5;
  bool affine = true;  // learn weight (gamma) and bias (beta)
};

// Train mode: y = gamma * (x - mean_B) / sqrt(var_B + eps) + beta with the batch's mean and biased
// variance; running_mean/running_var move towards the batch mean and UNBIASED variance.
// Eval mode: the running statistics instead. Parameters, in PyTorch's state_dict order: weight,
// bias (when affine; not regularized), running_mean, running_var (trainable = false: buffers that
// checkpoints save but optimizers skip). PyTorch's num_batches_tracked is not kept.
class BatchNorm final : public Layer {
 public:
  static constexpr std::string_view kKind = "batchnorm";

  BatchNorm(std::string name, const BatchNormSpec& spec, Index features);

  std::string_view kind() const override { return kKind; }
  Shape output_shape(const Shape& input) const override;
  void forward(const Tensor& input, Tensor& output, const ForwardContext& context) override;
  // After a train-mode forward: the full batch-norm gradient (through the batch statistics);
  // after an eval-mode forward: the affine map's gradient only.
  void backward(const Tensor& input, const Tensor& output, const Tensor& grad_output,
                Tensor& grad_input) override;
  std::span<Parameter> parameters() override { return parameters_; }
  double flops_per_example(const Shape& input) const override;
  // Takes "relu": applied as each value is normalised; backward passes the gradient where the
  // output is > 0.
  bool fuse_activation(std::string_view function) override;
  double eps() const { return spec_.eps; }  // for folding into a preceding layer (lib/compress)

 private:
  // An input seen as (outer, features, inner): (N, C, H*W), (N, F, 1) or (N*T, F, 1).
  struct Layout {
    Index outer;
    Index inner;
  };
  Layout layout_for(const Shape& input) const;  // throws ShapeError naming the layer
  Parameter* find(std::string_view name);
  template <bool Relu>
  void backward_with(const Tensor& input, const Tensor& output, const Tensor& grad_output,
                     Tensor& grad_input);

  std::string name_;
  BatchNormSpec spec_;
  Index features_;
  std::vector<Parameter> parameters_;
  Parameter* weight_ = nullptr;  // null unless affine
  Parameter* bias_ = nullptr;
  Parameter* running_mean_ = nullptr;
  Parameter* running_var_ = nullptr;

  // Per feature, from the last forward (sized once): the mean and 1/sqrt(var + eps) used, and the
  // scale gamma/sqrt(var + eps) and shift applied.
  std::vector<double> mean_;
  std::vector<double> inv_std_;
  std::vector<float> scale_;
  std::vector<float> shift_;
  std::vector<double> sum_grad_;        // backward: sum(dy) per feature
  std::vector<double> sum_grad_x_hat_;  // backward: sum(dy * x_hat) per feature
  Mode last_mode_ = Mode::eval;
  bool fused_relu_ = false;
};

// Options: momentum (in [0, 1], default 0.1), eps (> 0, default 1e-5), affine (default true).
std::unique_ptr<Layer> make_batchnorm(Options& options, const LayerBuildContext& context);

}  // namespace dlrun
