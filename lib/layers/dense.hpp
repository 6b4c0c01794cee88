// Fully connected layer: y = x W^T + b over the last axis. Inputs are (N, F) or (N, T, F); the
// leading axes are treated as one batch of rows (Keras semantics), so a sequence is one GEMM.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "layers/layer.hpp"
#include "layers/registry.hpp"

namespace dlrun {

struct DenseSpec {
  Index units = 0;  // output features, >= 1
  bool bias = true;
};

class Dense final : public Layer {
 public:
  static constexpr std::string_view kKind = "dense";

  // PyTorch's nn.Linear init: weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform with
  // a = sqrt(5)), drawn from `rng` in that order. `name` is used in shape errors.
  Dense(const DenseSpec& spec, Index in_features, std::string name, Rng& rng);

  std::string_view kind() const override { return kKind; }
  Shape output_shape(const Shape& input) const override;
  void forward(const Tensor& input, Tensor& output, const ForwardContext& context) override;
  void backward(const Tensor& input, const Tensor& output, const Tensor& grad_output,
                Tensor& grad_input) override;
  std::span<Parameter> parameters() override { return parameters_; }
  double flops_per_example(const Shape& input) const override;

  Index in_features() const { return in_features_; }
  Index units() const { return spec_.units; }
  bool has_bias() const { return spec_.bias; }

 private:
  // Rows of the (rows, in_features) matrix view of `input`: N for (N, F), N*T for (N, T, F).
  static Index row_count(const Shape& input);
  Parameter& weight() { return parameters_[0]; }  // (units, in_features), PyTorch layout
  Parameter& bias() { return parameters_[1]; }    // (units); present only when spec_.bias

  DenseSpec spec_;
  Index in_features_;
  std::string name_;
  std::vector<Parameter> parameters_;
};

// Registry factory for `type: dense` (units required, bias optional). Throws ShapeError for an
// input that is not (N, F) or (N, T, F), naming the layer.
std::unique_ptr<Layer> make_dense(Options& options, const LayerBuildContext& context);

}  // namespace dlrun
