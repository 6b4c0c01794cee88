// Loss functions: the mean over the batch and its gradient with respect to the predictions.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/options.hpp"
#include "core/tensor.hpp"

namespace dlrun {

// The targets of one batch: class labels (cross_entropy; binary_cross_entropy with one output)
// or a float tensor shaped like the predictions (regression, autoencoders, multi-label BCE).
struct BatchTargets {
  std::span<const std::int32_t> labels;
  const Tensor* values = nullptr;
};

class Loss {
 public:
  virtual ~Loss() = default;
  virtual std::string_view type() const = 0;
  // True when the loss takes class labels (cross_entropy) rather than value targets.
  virtual bool takes_labels() const = 0;
  // Mean loss over the batch (PyTorch's reduction='mean'). When grad is not null it is ASSIGNED
  // d(loss)/d(predictions), resized like predictions.
  //   cross_entropy: predictions (N, C) logits, or (N, T, C) with N*T labels; fused log-softmax.
  //   binary_cross_entropy: logits, fused sigmoid; labels (0/1, one output) or values.
  //   mse, mae, huber: values shaped like predictions.
  // Throws ShapeError / DataError when targets do not fit (e.g. a label >= C).
  virtual double forward_backward(const Tensor& predictions, const BatchTargets& targets, Tensor* grad) = 0;
};

// Builds a loss by name (cross_entropy | binary_cross_entropy | mse | mae | huber) reading its
// options (huber: delta; cross_entropy: label_smoothing). Unknown names are ConfigErrors.
std::unique_ptr<Loss> make_loss(const std::string& type, const Location& type_where, Options& options);
std::vector<std::string> loss_types();

}  // namespace dlrun
