// layernorm: layer normalisation (Ba et al. 2016; PyTorch's nn.LayerNorm(F)) over the last axis of
// (N, F) or (N, T, F): y = (x - mean) / sqrt(var + eps) * weight + bias, with the biased variance
// of each row. The same in train and eval mode.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "layers/layer.hpp"
#include "layers/registry.hpp"

namespace dlrun {

struct LayerNormSpec {
  double eps = 1e-5;
  bool affine = true;  // PyTorch's elementwise_affine: learn weight (init 1) and bias (init 0)
};

class LayerNorm final : public Layer {
 public:
  static constexpr std::string_view kKind = "layernorm";
  static constexpr Index kParameterCount = 2;  // weight, bias (when affine)

  // Owns its parameters "weight" and "bias" (F), not regularized.
  LayerNorm(std::string name, Index features, const LayerNormSpec& spec);
  // Uses `storage` (kParameterCount entries, owned by an enclosing layer that outlives this one)
  // for its parameters, named "<prefix>weight" and "<prefix>bias": transformer_block's norm1, norm2.
  LayerNorm(std::string name, Index features, const LayerNormSpec& spec, std::span<Parameter> storage,
            const std::string& prefix);

  std::string_view kind() const override { return kKind; }
  Shape output_shape(const Shape& input) const override;
  void forward(const Tensor& input, Tensor& output, const ForwardContext& context) override;
  void backward(const Tensor& input, const Tensor& output, const Tensor& grad_output,
                Tensor& grad_input) override;
  std::span<Parameter> parameters() override { return parameters_; }
  double flops_per_example(const Shape& input) const override;

 private:
  void init_parameters(const std::string& prefix);
  void check_input(const Shape& input) const;  // throws ShapeError naming the layer

  std::string name_;
  Index features_;
  LayerNormSpec spec_;
  std::vector<Parameter> owned_;
  std::span<Parameter> parameters_;  // owned_, or an enclosing layer's storage
  // Per row of the last forward: mean and 1 / sqrt(var + eps). Grown, never shrunk.
  std::vector<float> mean_;
  std::vector<float> inv_std_;
  // backward: per block of rows, the partial sums of dy * x_hat and dy for every feature.
  std::vector<float> partial_sums_;
};

// Options: eps (> 0, default 1e-5), affine (default true). Input (N, F) or (N, T, F).
std::unique_ptr<Layer> make_layernorm(Options& options, const LayerBuildContext& context);

}  // namespace dlrun
