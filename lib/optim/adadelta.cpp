#include "optim/adadelta.hpp"

#include <cmath>

namespace dlrun {

Adadelta::Adadelta(const AdadeltaSpec& spec, std::vector<ParameterRef> parameters)
    : ElementwiseOptimizer(spec.lr, std::move(parameters)), spec_(spec) {
  add_slot("square_avg", square_avg_);
  add_slot("acc_delta", acc_delta_);
}

// torch.optim.adadelta._single_tensor_adadelta, element by element.
void Adadelta::update(std::size_t index, std::span<float> value, std::span<const float> grad) {
  const auto lr = static_cast<float>(learning_rate());
  const auto rho = static_cast<float>(spec_.rho);
  const auto one_minus_rho = static_cast<float>(1.0 - spec_.rho);
  const auto eps = static_cast<float>(spec_.eps);
  const auto weight_decay = static_cast<float>(spec_.weight_decay);
  float* square_avg = square_avg_[index].data();
  float* acc_delta = acc_delta_[index].data();
  const std::size_t n = value.size();
  for (std::size_t i = 0; i < n; ++i) {
    const float g = grad[i] + weight_decay * value[i];
    square_avg[i] = square_avg[i] * rho + one_minus_rho * g * g;
    const float rms = std::sqrt(square_avg[i] + eps);
    const float delta = std::sqrt(acc_delta[i] + eps) / rms * g;
    acc_delta[i] = acc_delta[i] * rho + one_minus_rho * delta * delta;
    value[i] -= lr * delta;
  }
}

AdadeltaSpec read_adadelta_spec(Options& options) {
  AdadeltaSpec spec;
  spec.lr = options.positive_number("lr", spec.lr);
  spec.rho = options.number_in("rho", spec.rho, 0.0, 1.0, /*high_open=*/false);
  spec.eps = options.positive_number("eps", spec.eps);
  spec.weight_decay = options.number_at_least("weight_decay", spec.weight_decay, 0.0);
  return spec;
}

std::unique_ptr<Optimizer> make_adadelta(Options& options, std::vector<ParameterRef> parameters) {
  return std::make_unique<Adadelta>(read_adadelta_spec(options), std::move(parameters));
}

}  // namespace dlrun
