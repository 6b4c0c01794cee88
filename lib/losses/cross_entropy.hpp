// Softmax cross-entropy on logits (PyTorch's nn.CrossEntropyLoss with reduction='mean'), the
// softmax fused in for stability, with optional label smoothing.
#pragma once

#include <vector>

#include "losses/loss.hpp"

namespace dlrun {

class CrossEntropyLoss final : public Loss {
 public:
  // label_smoothing in [0, 1): the target is (1 - s) one_hot(y) + s / C.
  explicit CrossEntropyLoss(double label_smoothing = 0.0);

  std::string_view type() const override { return "cross_entropy"; }
  bool takes_labels() const override { return true; }
  // predictions (N, C) with N labels, or (N, T, C) with N*T labels (row-major: label n*T + t).
  // loss = mean over rows of  lse(x) - (1 - s) x_y - (s / C) sum_c x_c;
  // grad = (softmax(x) - target) / rows.
  double forward_backward(const Tensor& predictions, const BatchTargets& targets, Tensor* grad) override;

  double label_smoothing() const { return label_smoothing_; }

 private:
  double label_smoothing_;
  std::vector<double> block_sums_;  // see detail::sum_in_blocks: same result for any thread count
};

}  // namespace dlrun
