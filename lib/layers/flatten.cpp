#include "layers/flatten.hpp"

#include <algorithm>

#include "core/errors.hpp"

namespace dlrun {

Flatten::Flatten(std::string name) : name_(std::move(name)) {}

Shape Flatten::output_shape(const Shape& input) const {
  if (input.rank() < 1) throw ShapeError("layer '" + name_ + "' (flatten): input has no batch axis");
  return Shape{input[0], input.without_batch().element_count()};
}

// The values are already in the flattened order: a plain copy under the new shape.
void Flatten::forward(const Tensor& input, Tensor& output, const ForwardContext& /*context*/) {
  output.resize(output_shape(input.shape()));
  std::copy(input.values().begin(), input.values().end(), output.values().begin());
}

void Flatten::backward(const Tensor& input, const Tensor& /*output*/, const Tensor& grad_output,
                       Tensor& grad_input) {
  grad_input.resize(input.shape());
  std::copy(grad_output.values().begin(), grad_output.values().end(), grad_input.values().begin());
}

std::unique_ptr<Layer> make_flatten(Options& /*options*/, const LayerBuildContext& context) {
  auto layer = std::make_unique<Flatten>(context.name);
  layer->output_shape(context.input_shape);
  return layer;
}

}  // namespace dlrun
