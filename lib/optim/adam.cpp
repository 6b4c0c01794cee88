#include "optim/adam.hpp"

#include <algorithm>
#include <cmath>

#include "core/threads.hpp"

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

  // Restrict-qualified pointers and a branch-free body let the compiler vectorise the loop; large
  // tensors are split over the threads (the update is memory-bound, and each element is independent).
  float* const w_all = value.data();
  const float* const g_all = grad.data();
  float* const m_all = exp_avg_[index].data();
  float* const v_all = exp_avg_sq_[index].data();
  float* const v_max_all = spec_.amsgrad ? max_exp_avg_sq_[index].data() : nullptr;
  // Captured by value: the stores through w, m and v could otherwise alias the captured scalars,
  // which would keep the compiler from vectorising.
  auto update_range = [=](Index begin, Index end) {
    float* __restrict w = w_all + begin;
    const float* __restrict g_in = g_all + begin;
    float* __restrict m = m_all + begin;
    float* __restrict v = v_all + begin;
    const Index n = end - begin;
    if (v_max_all == nullptr) {
      for (Index i = 0; i < n; ++i) {
        const float g = g_in[i] + l2 * w[i];
        m[i] = m[i] * beta1 + one_minus_beta1 * g;
        v[i] = v[i] * beta2 + one_minus_beta2 * g * g;
        const float denom = std::sqrt(v[i]) / bias_correction2_sqrt + eps;
        w[i] = w[i] * shrink - step_size * (m[i] / denom);
      }
      return;
    }
    float* __restrict v_max = v_max_all + begin;
    for (Index i = 0; i < n; ++i) {
      const float g = g_in[i] + l2 * w[i];
      m[i] = m[i] * beta1 + one_minus_beta1 * g;
      v[i] = v[i] * beta2 + one_minus_beta2 * g * g;
      v_max[i] = std::max(v_max[i], v[i]);
      const float denom = std::sqrt(v_max[i]) / bias_correction2_sqrt + eps;
      w[i] = w[i] * shrink - step_size * (m[i] / denom);
    }
  };
  parallel_for(static_cast<Index>(value.size()), update_range, Index{1} << 15);
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
