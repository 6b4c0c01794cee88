#include "train/divergence.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>

namespace dlrun {

// A float is NaN or infinite exactly when its exponent bits are all ones. An integer max over those
// bits vectorises (a float sum would not: its order is fixed without -ffast-math).
bool all_finite(std::span<const float> values) {
  constexpr std::uint32_t kExponent = 0x7F800000u;
  std::uint32_t worst = 0;
  for (const float v : values) worst = std::max(worst, std::bit_cast<std::uint32_t>(v) & kExponent);
  return worst != kExponent;
}

std::optional<std::string> find_non_finite(Model& model, Index depth) {
  const std::vector<ParameterRef> parameters = model.parameters();
  for (const ParameterRef& ref : parameters) {
    if (!all_finite(ref.parameter->value.values())) return "parameter " + ref.name + " is not finite";
  }
  for (const ParameterRef& ref : parameters) {
    if (ref.parameter->trainable && !all_finite(ref.parameter->grad.values())) {
      return "the gradient of " + ref.name + " is not finite";
    }
  }
  if (depth < 0 || depth > model.size()) depth = model.size();
  for (Index i = 0; i < depth; ++i) {
    if (!all_finite(model.output(i).values()))
      return "the output of layer '" + model.layer(i).name + "' is not finite";
  }
  return std::nullopt;
}

}  // namespace dlrun
