// Finding where training stopped being finite. The loop checks only the loss each step (cheap);
// when it is not finite, or before a checkpoint is written, these name the culprit.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "model/model.hpp"

namespace dlrun {

// True when no value is NaN or infinite.
bool all_finite(std::span<const float> values);

// "parameter fc1.weight is not finite", "the gradient of fc1.weight is not finite", "the output of
// layer 'fc2' is not finite": the first found, in order parameters, gradients, outputs of layers
// [0, depth); nullopt when everything is finite.
std::optional<std::string> find_non_finite(Model& model, Index depth);

}  // namespace dlrun
