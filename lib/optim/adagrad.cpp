#include "optim/adagrad.hpp"

#include <cmath>

namespace dlrun {

Adagrad::Adagrad(const AdagradSpec& spec, std::vector<ParameterRef> parameters)
    : ElementwiseOptimizer(spec.lr, std::move(parameters)), spec_(spec) {
  add_slot("sum", sum_, static_cast<float>(spec_.initial_accumulator_value));
}

// torch.optim.adagrad._single_tensor_adagrad (dense gradients), element by element.
void Adagrad::update(std::size_t index, std::span<float> value, std::span<const float> grad) {
  const auto step = static_cast<double>(step_count());
  const auto clr = static_cast<float>(learning_rate() / (1.0 + (step - 1.0) * spec_.lr_decay));
  const auto eps = static_cast<float>(spec_.eps);
  const auto weight_decay = static_cast<float>(spec_.weight_decay);
  float* sum = sum_[index].data();
  const std::size_t n = value.size();
  for (std::size_t i = 0; i < n; ++i) {
    const float g = grad[i] + weight_decay * value[i];
    sum[i] += g * g;
    value[i] -= clr * (g / (std::sqrt(sum[i]) + eps));
  }
}

AdagradSpec read_adagrad_spec(Options& options) {
  AdagradSpec spec;
  spec.lr = options.positive_number("lr", spec.lr);
  spec.lr_decay = options.number_at_least("lr_decay", spec.lr_decay, 0.0);
  spec.weight_decay = options.number_at_least("weight_decay", spec.weight_decay, 0.0);
  spec.initial_accumulator_value =
      options.number("initial_accumulator_value", spec.initial_accumulator_value);
  options.require_at_least("initial_accumulator_value", spec.initial_accumulator_value, 0.0);
  spec.eps = options.positive_number("eps", spec.eps);
  return spec;
}

std::unique_ptr<Optimizer> make_adagrad(Options& options, std::vector<ParameterRef> parameters) {
  return std::make_unique<Adagrad>(read_adagrad_spec(options), std::move(parameters));
}

}  // namespace dlrun
