#include "optim/adam.hpp"

#include <algorithm>
#include <cmath>

namespace dlrun {

Adam::Adam(const AdamSpec& spec, std::vector<ParameterRef> parameters)
    : ElementwiseOptimizer(spec.lr, std::move(parameters)), spec_(spec) {
  add_slot("exp_avg", exp_avg_);
  add_slot("exp_avg_sq", exp_avg_sq_);
  if (spec_.amsgrad) add_slot("max_exp_avg_sq", max_exp_avg_sq_);
}

// torch.optim.adam._single_tensor_adam / adamw._single_tensor_adamw, element by element. The bias
// corrections are computed in double, the element-wise arithmetic in float, as torch does.
void Adam::update(std::size_t index, std::span<float> value, std::span<const float> grad) {
  const double lr = learning_rate();
  const auto step = static_cast<double>(step_count());
  const double bias_correction1 = 1.0 - std::pow(spec_.beta1, step);
  const double bias_correction2 = 1.0 - std::pow(spec_.beta2, step);
  const auto step_size = static_cast<float>(lr / bias_correction1);
  const auto bias_correction2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  const auto beta1 = static_cast<float>(spec_.beta1);
  const auto beta2 = static_cast<float>(spec_.beta2);
  const auto one_minus_beta1 = static_cast<float>(1.0 - spec_.beta1);
  const auto one_minus_beta2 = static_cast<float>(1.0 - spec_.beta2);
  const auto eps = static_cast<float>(spec_.eps);
  // Adam adds the decay to the gradient; AdamW shrinks the parameter instead.
  const auto l2 = static_cast<float>(spec_.decoupled ? 0.0 : spec_.weight_decay);
  const auto shrink = static_cast<float>(spec_.decoupled ? 1.0 - lr * spec_.weight_decay : 1.0);

  float* m = exp_avg_[index].data();
  float* v = exp_avg_sq_[index].data();
  float* v_max = spec_.amsgrad ? max_exp_avg_sq_[index].data() : nullptr;
  const std::size_t n = value.size();
  for (std::size_t i = 0; i < n; ++i) {
    const float g = grad[i] + l2 * value[i];
    const float w = value[i] * shrink;
    m[i] = m[i] * beta1 + one_minus_beta1 * g;
    v[i] = v[i] * beta2 + one_minus_beta2 * g * g;
    float second = v[i];
    if (v_max != nullptr) {
      v_max[i] = std::max(v_max[i], v[i]);
      second = v_max[i];
    }
    const float denom = std::sqrt(second) / bias_correction2_sqrt + eps;
    value[i] = w - step_size * (m[i] / denom);
  }
}

void read_betas(Options& options, double& beta1, double& beta2) {
  const std::vector<double> betas = options.numbers("betas", {beta1, beta2});
  if (betas.size() != 2) options.fail("betas", "expected a list of two numbers [beta1, beta2]");
  for (const double beta : betas) {
    if (!(beta >= 0.0 && beta < 1.0)) {
      options.fail("betas", "each beta must be in [0, 1), got " + format_number(beta));
    }
  }
  beta1 = betas[0];
  beta2 = betas[1];
}

AdamSpec read_adam_spec(Options& options, bool decoupled) {
  AdamSpec spec;
  spec.decoupled = decoupled;
  if (decoupled) spec.weight_decay = 1e-2;
  spec.lr = options.number("lr", spec.lr);
  options.require_positive("lr", spec.lr);
  read_betas(options, spec.beta1, spec.beta2);
  spec.eps = options.number("eps", spec.eps);
  options.require_positive("eps", spec.eps);
  spec.weight_decay = options.number("weight_decay", spec.weight_decay);
  options.require_at_least("weight_decay", spec.weight_decay, 0.0);
  spec.amsgrad = options.boolean("amsgrad", spec.amsgrad);
  return spec;
}

std::unique_ptr<Optimizer> make_adam(Options& options, std::vector<ParameterRef> parameters) {
  return std::make_unique<Adam>(read_adam_spec(options, false), std::move(parameters));
}

std::unique_ptr<Optimizer> make_adamw(Options& options, std::vector<ParameterRef> parameters) {
  return std::make_unique<Adam>(read_adam_spec(options, true), std::move(parameters));
}

}  // namespace dlrun
