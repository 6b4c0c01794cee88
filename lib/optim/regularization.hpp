// Weight penalties, gradient clipping and max-norm constraints: the functions the trainer calls
// around each optimizer step. Penalties follow Keras's kernel_regularizer (l1 * sum|w| +
// l2 * sum w^2, no 1/2), clipping torch.nn.utils.clip_grad_norm_ / clip_grad_value_, and max_norm
// Keras's MaxNorm constraint.
#pragma once

#include <span>

#include "layers/layer.hpp"
#include "optim/optimizer.hpp"

namespace dlrun {

struct PenaltyTarget {
  Parameter* parameter = nullptr;
  double l1 = 0.0;
  double l2 = 0.0;
};

// Returns sum over targets of l1 * sum|w| + l2 * sum w^2 and ACCUMULATES its gradient
// l1 * sign(w) + 2 * l2 * w into each parameter's grad (sign(0) = 0, as torch.sign and the
// subgradient Keras/TensorFlow use for |w| at 0).
// https://keras.io/api/layers/regularizers/
double add_weight_penalties(std::span<const PenaltyTarget> targets);

// Scales every trainable gradient by min(1, max_norm / (total + 1e-6)), where total is the L2 norm
// of all gradients together (torch.nn.utils.clip_grad_norm_ with norm_type 2); returns the total
// before clipping. A non-finite total is returned as is (and makes the gradients non-finite, as in
// torch with error_if_nonfinite=False); the trainer checks it. Precondition: max_norm > 0.
double clip_grad_norm(std::span<const ParameterRef> parameters, double max_norm);

// Clamps every trainable gradient element to [-clip_value, clip_value]
// (torch.nn.utils.clip_grad_value_). Precondition: clip_value > 0.
void clip_grad_value(std::span<const ParameterRef> parameters, double clip_value);

// Keras's MaxNorm(max_value=max_norm) on a parameter in PyTorch layout: each output unit's
// incoming weights (a row of a [out, in] dense weight, one filter [in/groups, kh, kw] of a conv
// weight: everything but the first axis) are scaled by clip(norm, 0, max_norm) / (1e-7 + norm).
// A rank-1 parameter is one group. Precondition: max_norm > 0.
// https://keras.io/api/layers/constraints/
void apply_max_norm(Parameter& parameter, double max_norm);

}  // namespace dlrun
