#include "layers/dropout.hpp"

#include <algorithm>

#include "core/errors.hpp"

namespace dlrun {

Dropout::Dropout(double rate, std::string name) : rate_(rate), name_(std::move(name)) {
  require(rate_ >= 0.0 && rate_ < 1.0, "dropout: rate must be in [0, 1)");
}

Shape Dropout::output_shape(const Shape& input) const {
  if (input.rank() < 1) throw ShapeError("layer '" + name_ + "' (dropout): input has no batch axis");
  return input;
}

void Dropout::forward(const Tensor& input, Tensor& output, const ForwardContext& context) {
  output.resize(output_shape(input.shape()));
  masked_ = context.mode == Mode::train && rate_ > 0.0;
  if (!masked_) {
    std::copy(input.values().begin(), input.values().end(), output.values().begin());
    return;
  }
  require(context.rng != nullptr, "dropout: Mode::train needs ForwardContext.rng");
  Rng& rng = *context.rng;
  mask_.resize(input.shape());
  const float scale = static_cast<float>(1.0 / (1.0 - rate_));
  float* mask = mask_.data();
  // Sequential draws: the mask depends only on the stream, never on the thread count.
  for (Index i = 0; i < mask_.size(); ++i) mask[i] = rng.uniform() < rate_ ? 0.0f : scale;
  const float* x = input.data();
  float* y = output.data();
  for (Index i = 0; i < input.size(); ++i) y[i] = x[i] * mask[i];
}

void Dropout::backward(const Tensor& input, const Tensor& /*output*/, const Tensor& grad_output,
                       Tensor& grad_input) {
  grad_input.resize(input.shape());
  if (!masked_) {
    std::copy(grad_output.values().begin(), grad_output.values().end(), grad_input.values().begin());
    return;
  }
  require(mask_.shape() == grad_output.shape(), "dropout: backward without a matching train forward");
  const float* g = grad_output.data();
  const float* mask = mask_.data();
  float* grad_x = grad_input.data();
  for (Index i = 0; i < grad_input.size(); ++i) grad_x[i] = g[i] * mask[i];
}

std::unique_ptr<Layer> make_dropout(Options& options, const LayerBuildContext& context) {
  const double rate = options.number("rate", 0.5);
  options.require_in("rate", rate, 0.0, 1.0);
  return std::make_unique<Dropout>(rate, context.name);
}

}  // namespace dlrun
