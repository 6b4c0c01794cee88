// Model: an ordered stack of named layers built from the config through the layer registry, with
// shape inference, the parameter list (PyTorch state_dict names), and forward/backward over
// preallocated activation buffers.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "layers/registry.hpp"
#include "optim/optimizer.hpp"

namespace dlrun {

// Per-layer regularisation read from the layer's config (`l1:`, `l2:`, `max_norm:`), applied by
// the trainer to the layer's regularised parameters (weights, not biases or norms).
struct LayerRegularization {
  double l1 = 0.0;
  double l2 = 0.0;
  double max_norm = 0.0;  // 0 = off
};

struct ModelLayer {
  std::string name;      // "fc1", "conv2d_1"; activation shorthands get "<name>_<function>"
  std::string type;      // the registry type ("dense", "activation", ...)
  std::string function;  // activation layers: relu, softmax, ...; others: a fused activation
  std::unique_ptr<Layer> layer;
  Shape output_shape;  // with a batch axis of 1
  LayerRegularization regularization;
  // Computed inside the layer before it (Layer::fuse_next), which writes this layer's output.
  bool fused_into_previous = false;
};

struct LayerSummary {
  std::string name;
  std::string type;
  Shape output_shape;  // without the batch axis
  Index parameters = 0;
  double flops = 0.0;  // per example
};

class Model {
 public:
  // Builds every layer for `input_shape` (one example, without the batch axis). Layer options are
  // validated by their factories; shape errors name the layer. `activation:` on any layer adds an
  // activation layer after it; `l1`, `l2`, `max_norm` are read here, and are ConfigErrors on a
  // layer without weights to apply them to.
  static Model build(const std::vector<LayerConfig>& layers, const Shape& input_shape,
                     const LayerRegistry& registry, Rng& init_rng);

  Model() = default;
  Model(Model&&) = default;
  Model& operator=(Model&&) = default;

  // Runs layers [0, depth) (depth = size() when negative) and returns the last output.
  const Tensor& forward(const Tensor& input, const ForwardContext& context, Index depth = -1);
  // After forward(input, ..., depth): back-propagates grad_output (the gradient of the loss with
  // respect to the output of layer depth-1) down to the first layer with trainable parameters,
  // accumulating parameter grads. The input gradient of that layer is not needed, so it is not
  // computed when possible, and the layers before it are not run backward. `after_layer`, when
  // given, is called with each layer's index once its parameter grads are complete (data-parallel
  // training starts summing them over ranks there, while the layers below run backward).
  void backward(const Tensor& input, const Tensor& grad_output, Index depth = -1,
                const std::function<void(Index)>* after_layer = nullptr);

  Index size() const { return static_cast<Index>(layers_.size()); }
  const ModelLayer& layer(Index i) const { return layers_[static_cast<std::size_t>(i)]; }
  // Layer i's output from the last forward(). Empty for a layer that also computes the layers after
  // it (Layer::fuse_next): the result of such a run is the output of its last layer.
  const Tensor& output(Index i) const { return outputs_[static_cast<std::size_t>(i)]; }
  ModelLayer& layer(Index i) { return layers_[static_cast<std::size_t>(i)]; }
  const Shape& input_shape() const { return input_shape_; }
  Shape output_shape() const;  // one example, without the batch axis

  // Every parameter (buffers included) named "<layer>.<param>", in layer order.
  std::vector<ParameterRef> parameters();
  std::vector<ParameterRef> trainable_parameters();
  void zero_grads();

  std::vector<LayerSummary> summary() const;

  // The final layer's activation function ("softmax", "sigmoid", ...) or "" when it is not an
  // activation layer.
  std::string final_activation() const;

 private:
  std::size_t output_slot(Index i, Index depth) const;

  Shape input_shape_;
  std::vector<ModelLayer> layers_;
  std::vector<Tensor> outputs_;  // one per layer
  Tensor grad_a_, grad_b_;       // ping-pong gradient buffers
  Index first_trainable_ = 0;    // the first layer with trainable parameters (size() if none)
};

}  // namespace dlrun
