// Shape checks shared by the losses that take value targets.
#pragma once

#include <string>

#include "core/errors.hpp"
#include "losses/loss.hpp"

namespace dlrun::detail {

// Value targets must hold one value per prediction for the same examples; the shapes may differ
// otherwise ((N, 1) against (N,), (N, 784) against (N, 1, 28, 28)).
inline const Tensor& value_targets(std::string_view loss, const Tensor& predictions,
                                   const BatchTargets& targets) {
  if (targets.values == nullptr) {
    throw DataError(std::string(loss) + " needs value targets, got class labels");
  }
  const Tensor& values = *targets.values;
  const bool same_examples = values.shape().rank() >= 1 && predictions.shape().rank() >= 1 &&
                             values.shape()[0] == predictions.shape()[0];
  if (values.size() != predictions.size() || !same_examples) {
    throw ShapeError(std::string(loss) + ": targets " + values.shape().to_string() +
                     " do not match predictions " + predictions.shape().to_string());
  }
  return values;
}

}  // namespace dlrun::detail
