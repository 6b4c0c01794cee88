// The Layer interface every layer implements, and Parameter, a learnable tensor with its gradient.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/random.hpp"
#include "core/tensor.hpp"

namespace dlrun {

enum class Mode { train, eval };  // dropout and batch norm read this

// What a forward pass may need besides its input.
struct ForwardContext {
  Mode mode = Mode::eval;
  Rng* rng = nullptr;  // for stochastic layers in Mode::train (dropout); may be null in eval
};

// A learnable tensor and its gradient, always the same shape. Names follow PyTorch's
// state_dict (weight, bias, running_mean, weight_ih_l0, ...); the Model prefixes the layer name.
struct Parameter {
  std::string name;
  Tensor value;
  Tensor grad;              // accumulated by Layer::backward, zeroed by the trainer
  bool trainable = true;    // false for buffers such as batch norm's running statistics
  bool regularized = true;  // false for biases and norms: l1/l2 and max_norm apply to weights only
};

// One stage of a sequential network.
//
// Contract (checked for every layer by tests/support/gradient_check):
//   - output_shape() is pure and throws ShapeError for inputs the layer cannot take; shapes
//     include the batch axis first.
//   - forward() resizes `output` to output_shape(input.shape()).
//   - backward() is called after forward() with the same input and output. It ASSIGNS
//     grad_input (resizing it like input) and ACCUMULATES (+=) into each parameter's grad.
//   - no allocation in forward/backward once buffers have reached their size.
class Layer {
 public:
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  virtual std::string_view kind() const = 0;
  virtual Shape output_shape(const Shape& input) const = 0;
  virtual void forward(const Tensor& input, Tensor& output, const ForwardContext& context) = 0;
  virtual void backward(const Tensor& input, const Tensor& output, const Tensor& grad_output,
                        Tensor& grad_input) = 0;
  virtual std::span<Parameter> parameters() { return {}; }
  // Multiply-adds counted as 2 FLOPs, for one example (input without batch axis is input[1:]).
  virtual double flops_per_example(const Shape& /*input*/) const { return 0.0; }

  // Offers to apply an activation `function` to this layer's output inside forward() and backward(),
  // saving a pass over memory. Returns true when the layer takes it; the model then adds no separate
  // activation layer. Fused results must equal the unfused pair's.
  virtual bool fuse_activation(std::string_view /*function*/) { return false; }

  // Offers to compute `next`, the layer that consumes this layer's output (or the output of the
  // layers it has already taken), inside this layer's forward() and backward(), so intermediate
  // outputs never leave the cache. Returns true when taken: the model then calls this layer with
  // the output and output gradient of the last layer taken, and no longer calls the layers taken.
  // Fused results must equal the unfused layers'.
  virtual bool fuse_next(const Layer& /*next*/) { return false; }

  // Whether backward() must compute grad_input (default true). The model clears it up to the first
  // layer with trainable parameters, whose input is the data or follows from it without learning: a
  // layer may then skip that work (conv2d saves a GEMM and col2im, about a quarter of its time;
  // dense one of its three GEMMs) and leave grad_input's values unspecified, still resized like input.
  // Parameter gradients are computed either way.
  void set_input_grad_needed(bool needed) { input_grad_needed_ = needed; }
  bool input_grad_needed() const { return input_grad_needed_; }

 protected:
  Layer() = default;

 private:
  bool input_grad_needed_ = true;
};

}  // namespace dlrun
