#include "optim/adam.hpp"

#include <algorithm>
#include <cmath>

#include "core/simd.hpp"
#include "core/threads.hpp"

namespace dlrun {
namespace {

struct AdamStepConstants {
  float l2, beta1, beta2, one_minus_beta1, one_minus_beta2, bias_correction2_sqrt, eps, shrink, step_size;
};

// Restrict-qualified pointers, constants passed by value and a branch-free body let the compiler
// vectorise these loops (the stores could otherwise alias the constants).
DLRUN_SIMD_CLONES void adam_range(AdamStepConstants c, Index n, float* __restrict w,
                                  const float* __restrict g_in, float* __restrict m, float* __restrict v) {
  for (Index i = 0; i < n; ++i) {
    const float g = g_in[i] + c.l2 * w[i];
    m[i] = m[i] * c.beta1 + c.one_minus_beta1 * g;
    v[i] = v[i] * c.beta2 + c.one_minus_beta2 * g * g;
    const float denom = std::sqrt(v[i]) / c.bias_correction2_sqrt + c.eps;
    w[i] = w[i] * c.shrink - c.step_size * (m[i] / denom);
  }
}

DLRUN_SIMD_CLONES void amsgrad_range(AdamStepConstants c, Index n, float* __restrict w,
                                     const float* __restrict g_in, float* __restrict m, float* __restrict v,
                                     float* __restrict v_max) {
  for (Index i = 0; i < n; ++i) {
    const float g = g_in[i] + c.l2 * w[i];
    m[i] = m[i] * c.beta1 + c.one_minus_beta1 * g;
    v[i] = v[i] * c.beta2 + c.one_minus_beta2 * g * g;
    v_max[i] = std::max(v_max[i], v[i]);
    const float denom = std::sqrt(v_max[i]) / c.bias_correction2_sqrt + c.eps;
    w[i] = w[i] * c.shrink - c.step_size * (m[i] / denom);
  }
}

}  // namespace

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
  // Adam adds the decay to the gradient; AdamW shrinks the parameter instead.
  const AdamStepConstants c{
      .l2 = static_cast<float>(spec_.decoupled ? 0.0 : spec_.weight_decay),
      .beta1 = static_cast<float>(spec_.beta1),
      .beta2 = static_cast<float>(spec_.beta2),
      .one_minus_beta1 = static_cast<float>(1.0 - spec_.beta1),
      .one_minus_beta2 = static_cast<float>(1.0 - spec_.beta2),
      .bias_correction2_sqrt = static_cast<float>(std::sqrt(bias_correction2)),
      .eps = static_cast<float>(spec_.eps),
      .shrink = static_cast<float>(spec_.decoupled ? 1.0 - lr * spec_.weight_decay : 1.0),
      .step_size = static_cast<float>(lr / bias_correction1),
  };
  float* const w = value.data();
  const float* const g = grad.data();
  float* const m = exp_avg_[index].data();
  float* const v = exp_avg_sq_[index].data();
  float* const v_max = spec_.amsgrad ? max_exp_avg_sq_[index].data() : nullptr;
  // Large tensors are split over the threads; each element is independent.
  auto update_range = [&](Index begin, Index end) {
    if (v_max == nullptr) {
      adam_range(c, end - begin, w + begin, g + begin, m + begin, v + begin);
    } else {
      amsgrad_range(c, end - begin, w + begin, g + begin, m + begin, v + begin, v_max + begin);
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
  spec.lr = options.positive_number("lr", spec.lr);
  read_betas(options, spec.beta1, spec.beta2);
  spec.eps = options.positive_number("eps", spec.eps);
  spec.weight_decay = options.number_at_least("weight_decay", spec.weight_decay, 0.0);
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
