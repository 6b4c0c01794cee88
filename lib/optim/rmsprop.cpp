#include "optim/rmsprop.hpp"

#include <cmath>

namespace dlrun {

Rmsprop::Rmsprop(const RmspropSpec& spec, std::vector<ParameterRef> parameters)
    : ElementwiseOptimizer(spec.lr, std::move(parameters)), spec_(spec) {
  add_slot("square_avg", square_avg_);
  if (spec_.momentum > 0.0) add_slot("momentum_buffer", momentum_buffer_);
  if (spec_.centered) add_slot("grad_avg", grad_avg_);
}

// torch.optim.rmsprop._single_tensor_rmsprop, element by element.
void Rmsprop::update(std::size_t index, std::span<float> value, std::span<const float> grad) {
  const auto lr = static_cast<float>(learning_rate());
  const auto alpha = static_cast<float>(spec_.alpha);
  const auto one_minus_alpha = static_cast<float>(1.0 - spec_.alpha);
  const auto eps = static_cast<float>(spec_.eps);
  const auto weight_decay = static_cast<float>(spec_.weight_decay);
  const auto momentum = static_cast<float>(spec_.momentum);
  float* square_avg = square_avg_[index].data();
  float* grad_avg = spec_.centered ? grad_avg_[index].data() : nullptr;
  float* buffer = spec_.momentum > 0.0 ? momentum_buffer_[index].data() : nullptr;
  const std::size_t n = value.size();
  for (std::size_t i = 0; i < n; ++i) {
    const float g = grad[i] + weight_decay * value[i];
    square_avg[i] = square_avg[i] * alpha + one_minus_alpha * g * g;
    float variance = square_avg[i];
    if (grad_avg != nullptr) {
      grad_avg[i] = grad_avg[i] * alpha + one_minus_alpha * g;
      variance -= grad_avg[i] * grad_avg[i];
    }
    const float avg = std::sqrt(variance) + eps;
    if (buffer != nullptr) {
      buffer[i] = buffer[i] * momentum + g / avg;
      value[i] -= lr * buffer[i];
    } else {
      value[i] -= lr * (g / avg);
    }
  }
}

RmspropSpec read_rmsprop_spec(Options& options) {
  RmspropSpec spec;
  spec.lr = options.positive_number("lr", spec.lr);
  spec.alpha = options.number_in("alpha", spec.alpha, 0.0, 1.0, /*high_open=*/false);
  spec.eps = options.positive_number("eps", spec.eps);
  spec.weight_decay = options.number_at_least("weight_decay", spec.weight_decay, 0.0);
  spec.momentum = options.number_at_least("momentum", spec.momentum, 0.0);
  spec.centered = options.boolean("centered", spec.centered);
  return spec;
}

std::unique_ptr<Optimizer> make_rmsprop(Options& options, std::vector<ParameterRef> parameters) {
  return std::make_unique<Rmsprop>(read_rmsprop_spec(options), std::move(parameters));
}

}  // namespace dlrun
