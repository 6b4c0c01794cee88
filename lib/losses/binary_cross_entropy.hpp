// Binary cross-entropy on logits (PyTorch's nn.BCEWithLogitsLoss, reduction='mean'): the sigmoid
// fused in, in the stable form max(x, 0) - x y + log(1 + exp(-|x|)).
#pragma once

#include <vector>

#include "losses/loss.hpp"

namespace dlrun {

class BinaryCrossEntropyLoss final : public Loss {
 public:
  std::string_view type() const override { return "binary_cross_entropy"; }
  // Class labels 0/1 are its usual targets (one output per example); value targets in [0, 1]
  // shaped like the predictions (multi-label, autoencoders) are taken as well.
  bool takes_labels() const override { return true; }
  // predictions: logits. targets.values when given (same element count, same N), else
  // targets.labels (one per example, predictions (N, 1) or (N,)). grad = (sigmoid(x) - y) / count.
  double forward_backward(const Tensor& predictions, const BatchTargets& targets, Tensor* grad) override;

 private:
  std::vector<double> block_sums_;  // see detail::sum_in_blocks
};

}  // namespace dlrun
