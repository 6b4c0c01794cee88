#include "optim/regularization.hpp"

#include <algorithm>
#include <cmath>

#include "core/errors.hpp"

namespace dlrun {

double add_weight_penalties(std::span<const PenaltyTarget> targets) {
  double penalty = 0.0;
  for (const PenaltyTarget& target : targets) {
    require(target.parameter != nullptr, "weight penalty on a null parameter");
    const auto values = std::as_const(target.parameter->value).values();
    const auto grad = target.parameter->grad.values();
    require(grad.size() == values.size(), "weight penalty: grad and value sizes differ");
    const auto l1 = static_cast<float>(target.l1);
    const auto two_l2 = static_cast<float>(2.0 * target.l2);
    double sum_abs = 0.0, sum_squares = 0.0;
    for (std::size_t i = 0; i < values.size(); ++i) {
      const float w = values[i];
      sum_abs += std::abs(w);
      sum_squares += static_cast<double>(w) * w;
      const float sign = static_cast<float>((w > 0.0f) - (w < 0.0f));
      grad[i] += l1 * sign + two_l2 * w;
    }
    penalty += target.l1 * sum_abs + target.l2 * sum_squares;
  }
  return penalty;
}

double clip_grad_norm(std::span<const ParameterRef> parameters, double max_norm) {
  require(max_norm > 0.0, "clip_grad_norm needs max_norm > 0");
  double sum_squares = 0.0;
  for (const ParameterRef& ref : parameters) {
    if (!ref.parameter->trainable) continue;
    for (const float g : std::as_const(ref.parameter->grad).values())
      sum_squares += static_cast<double>(g) * g;
  }
  const double total = std::sqrt(sum_squares);
  const double coefficient = std::min(1.0, max_norm / (total + 1e-6));
  if (coefficient < 1.0 || !std::isfinite(total)) {
    const auto scale = static_cast<float>(coefficient);
    for (const ParameterRef& ref : parameters) {
      if (!ref.parameter->trainable) continue;
      for (float& g : ref.parameter->grad.values()) g *= scale;
    }
  }
  return total;
}

void clip_grad_value(std::span<const ParameterRef> parameters, double clip_value) {
  require(clip_value > 0.0, "clip_grad_value needs clip_value > 0");
  const auto limit = static_cast<float>(clip_value);
  for (const ParameterRef& ref : parameters) {
    if (!ref.parameter->trainable) continue;
    for (float& g : ref.parameter->grad.values()) g = std::clamp(g, -limit, limit);
  }
}

void apply_max_norm(Parameter& parameter, double max_norm) {
  require(max_norm > 0.0, "apply_max_norm needs max_norm > 0");
  const Shape& shape = parameter.value.shape();
  const Index groups = shape.rank() >= 2 ? shape[0] : 1;
  const Index width = groups > 0 ? parameter.value.size() / groups : 0;
  float* values = parameter.value.data();
  for (Index unit = 0; unit < groups; ++unit) {
    float* row = values + unit * width;
    double sum_squares = 0.0;
    for (Index i = 0; i < width; ++i) sum_squares += static_cast<double>(row[i]) * row[i];
    const double norm = std::sqrt(sum_squares);
    const double desired = std::clamp(norm, 0.0, max_norm);
    const auto scale = static_cast<float>(desired / (1e-7 + norm));
    for (Index i = 0; i < width; ++i) row[i] *= scale;
  }
}

}  // namespace dlrun
