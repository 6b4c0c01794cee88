#include "optim/nadam.hpp"

#include <cmath>

#include "optim/adam.hpp"

namespace dlrun {

Nadam::Nadam(const NadamSpec& spec, std::vector<ParameterRef> parameters)
    : ElementwiseOptimizer(spec.lr, std::move(parameters)),
      spec_(spec),
      mu_product_(this->parameters().size(), 1.0) {
  add_slot("exp_avg", exp_avg_);
  add_slot("exp_avg_sq", exp_avg_sq_);
}

// torch.optim.nadam._multi_tensor_nadam (see the file comment), element by element.
void Nadam::update(std::size_t index, std::span<float> value, std::span<const float> grad) {
  const double lr = learning_rate();
  const auto step = static_cast<double>(step_count());
  const double bias_correction2 = 1.0 - std::pow(spec_.beta2, step);
  const double mu = spec_.beta1 * (1.0 - 0.5 * std::pow(0.96, step * spec_.momentum_decay));
  const double mu_next = spec_.beta1 * (1.0 - 0.5 * std::pow(0.96, (step + 1.0) * spec_.momentum_decay));
  // torch keeps mu_product in a float32 tensor.
  mu_product_[index] = static_cast<float>(mu_product_[index] * mu);
  const double mu_product = mu_product_[index];
  const auto grad_step = static_cast<float>(-lr * (1.0 - mu) / (1.0 - mu_product));
  const auto momentum_step = static_cast<float>(-lr * mu_next / (1.0 - mu_product * mu_next));
  const auto bias_correction2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  const auto beta1 = static_cast<float>(spec_.beta1);
  const auto beta2 = static_cast<float>(spec_.beta2);
  const auto one_minus_beta1 = static_cast<float>(1.0 - spec_.beta1);
  const auto one_minus_beta2 = static_cast<float>(1.0 - spec_.beta2);
  const auto eps = static_cast<float>(spec_.eps);
  const auto weight_decay = static_cast<float>(spec_.weight_decay);

  float* m = exp_avg_[index].data();
  float* v = exp_avg_sq_[index].data();
  const std::size_t n = value.size();
  for (std::size_t i = 0; i < n; ++i) {
    const float g = grad[i] + weight_decay * value[i];
    m[i] = m[i] * beta1 + one_minus_beta1 * g;
    v[i] = v[i] * beta2 + one_minus_beta2 * g * g;
    const float denom = std::sqrt(v[i]) / bias_correction2_sqrt + eps;
    const float w = value[i] + grad_step * (g / denom);
    value[i] = w + momentum_step * (m[i] / denom);
  }
}

void Nadam::extra_scalars(std::map<std::string, double>& scalars) const {
  for (std::size_t i = 0; i < mu_product_.size(); ++i) {
    scalars[parameters()[i].name + ".mu_product"] = mu_product_[i];
  }
}

void Nadam::set_extra_scalars(const std::map<std::string, double>& scalars) {
  for (std::size_t i = 0; i < mu_product_.size(); ++i) {
    mu_product_[i] = state_scalar(scalars, parameters()[i].name + ".mu_product", type());
  }
}

NadamSpec read_nadam_spec(Options& options) {
  NadamSpec spec;
  spec.lr = options.positive_number("lr", spec.lr);
  read_betas(options, spec.beta1, spec.beta2);
  spec.eps = options.positive_number("eps", spec.eps);
  spec.weight_decay = options.number_at_least("weight_decay", spec.weight_decay, 0.0);
  spec.momentum_decay = options.number_at_least("momentum_decay", spec.momentum_decay, 0.0);
  return spec;
}

std::unique_ptr<Optimizer> make_nadam(Options& options, std::vector<ParameterRef> parameters) {
  return std::make_unique<Nadam>(read_nadam_spec(options), std::move(parameters));
}

}  // namespace dlrun
