#include "optim/ftrl.hpp"

#include <algorithm>
#include <cmath>

namespace dlrun {

Ftrl::Ftrl(const FtrlSpec& spec, std::vector<ParameterRef> parameters)
    : ElementwiseOptimizer(spec.lr, std::move(parameters)), spec_(spec) {
  add_slot("accumulator", accumulator_, static_cast<float>(spec_.initial_accumulator_value));
  add_slot("linear", linear_);
}

void Ftrl::update(std::size_t index, std::span<float> value, std::span<const float> grad) {
  const double lr_double = learning_rate();
  const auto lr = static_cast<float>(lr_double);
  const auto power = static_cast<float>(-spec_.learning_rate_power);
  const auto l1 = static_cast<float>(spec_.l1_regularization_strength);
  const auto two_l2 =
      2.0f * static_cast<float>(spec_.l2_regularization_strength + spec_.beta / (2.0 * lr_double));
  const auto two_shrinkage = static_cast<float>(2.0 * spec_.l2_shrinkage_regularization_strength);
  float* n = accumulator_[index].data();
  float* z = linear_[index].data();
  const std::size_t count = value.size();
  // The default power 1/2 is a square root, several times cheaper than pow (TensorFlow's kernel
  // special-cases it too).
  const bool square_root = power == 0.5f;
  for (std::size_t i = 0; i < count; ++i) {
    const float g = grad[i];
    const float w = value[i];
    const float n_new = n[i] + g * g;
    const float n_new_power = square_root ? std::sqrt(n_new) : std::pow(n_new, power);
    const float n_power = square_root ? std::sqrt(n[i]) : std::pow(n[i], power);
    z[i] += (g + two_shrinkage * w) - (n_new_power - n_power) / lr * w;
    const float quadratic = n_new_power / lr + two_l2;
    value[i] = (std::clamp(z[i], -l1, l1) - z[i]) / quadratic;
    n[i] = n_new;
  }
}

FtrlSpec read_ftrl_spec(Options& options) {
  FtrlSpec spec;
  spec.lr = options.positive_number("lr", spec.lr);
  spec.learning_rate_power = options.number("learning_rate_power", spec.learning_rate_power);
  if (!(spec.learning_rate_power <= 0.0)) {
    options.fail("learning_rate_power", "must be <= 0, got " + format_number(spec.learning_rate_power));
  }
  const auto non_negative = [&options](std::string_view key, double fallback) {
    const double value = options.number(key, fallback);
    options.require_at_least(key, value, 0.0);
    return value;
  };
  spec.initial_accumulator_value = non_negative("initial_accumulator_value", spec.initial_accumulator_value);
  spec.l1_regularization_strength =
      non_negative("l1_regularization_strength", spec.l1_regularization_strength);
  spec.l2_regularization_strength =
      non_negative("l2_regularization_strength", spec.l2_regularization_strength);
  spec.l2_shrinkage_regularization_strength =
      non_negative("l2_shrinkage_regularization_strength", spec.l2_shrinkage_regularization_strength);
  spec.beta = non_negative("beta", spec.beta);
  return spec;
}

std::unique_ptr<Optimizer> make_ftrl(Options& options, std::vector<ParameterRef> parameters) {
  return std::make_unique<Ftrl>(read_ftrl_spec(options), std::move(parameters));
}

}  // namespace dlrun
