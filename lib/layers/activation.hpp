// Elementwise activations (relu, leaky_relu, elu, gelu, sigmoid, tanh, linear) and softmax over the
// last axis, as one layer type: `type: activation, function: relu`. The model builder also makes
// one for the `activation:` shorthand on other layers through make_activation_layer().
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "layers/layer.hpp"
#include "layers/registry.hpp"

namespace dlrun {

enum class ActivationFunction { linear, relu, leaky_relu, elu, gelu, sigmoid, tanh, softmax };

struct ActivationSpec {
  ActivationFunction function = ActivationFunction::linear;
  float negative_slope = 0.01f;  // leaky_relu (PyTorch's default)
  float alpha = 1.0f;            // elu
};

// The names accepted in configs, sorted; "none" is an alias of "linear".
const std::vector<std::string>& activation_names();
std::string_view activation_name(ActivationFunction function);

class Activation final : public Layer {
 public:
  static constexpr std::string_view kKind = "activation";

  Activation(const ActivationSpec& spec, std::string name);

  std::string_view kind() const override { return kKind; }
  Shape output_shape(const Shape& input) const override;
  void forward(const Tensor& input, Tensor& output, const ForwardContext& context) override;
  void backward(const Tensor& input, const Tensor& output, const Tensor& grad_output,
                Tensor& grad_input) override;
  double flops_per_example(const Shape& input) const override;

  // For fusing a final softmax into cross_entropy and a final sigmoid into binary_cross_entropy.
  ActivationFunction function() const { return spec_.function; }
  std::string_view function_name() const { return activation_name(spec_.function); }
  bool is_softmax() const { return spec_.function == ActivationFunction::softmax; }
  bool is_sigmoid() const { return spec_.function == ActivationFunction::sigmoid; }
  bool is_identity() const { return spec_.function == ActivationFunction::linear; }
  const ActivationSpec& spec() const { return spec_; }

 private:
  ActivationSpec spec_;
  std::string name_;
};

// Builds the activation `function` (relu, leaky_relu, ..., linear/none) for the `activation:`
// shorthand of layer `layer_name`, reading `negative_slope` (leaky_relu) or `alpha` (elu) from the
// same options. An unknown name is a ConfigError at the `activation` key, with a did-you-mean.
std::unique_ptr<Layer> make_activation_layer(const std::string& function, Options& options,
                                             const std::string& layer_name);

// Registry factory for `type: activation` (function required; negative_slope / alpha where they apply).
std::unique_ptr<Layer> make_activation(Options& options, const LayerBuildContext& context);

}  // namespace dlrun
