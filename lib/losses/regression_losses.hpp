// Regression losses on value targets shaped like the predictions, each PyTorch's with
// reduction='mean' over all elements: MSELoss, L1Loss (mae), HuberLoss.
#pragma once

#include <vector>

#include "losses/loss.hpp"

namespace dlrun {

enum class RegressionKind { mse, mae, huber };

class RegressionLoss final : public Loss {
 public:
  // delta > 0 is used by huber only.
  explicit RegressionLoss(RegressionKind kind, double delta = 1.0);

  std::string_view type() const override;
  bool takes_labels() const override { return false; }
  // With d = prediction - target, per element:
  //   mse   d^2                                  grad 2 d
  //   mae   |d|                                  grad sign(d), 0 at d = 0 (as PyTorch)
  //   huber d^2 / 2 if |d| <= delta, else delta (|d| - delta / 2); grad clamp(d, -delta, delta)
  // then the mean over all elements (the gradient divided by the element count).
  double forward_backward(const Tensor& predictions, const BatchTargets& targets, Tensor* grad) override;

  RegressionKind kind() const { return kind_; }
  double delta() const { return delta_; }

 private:
  RegressionKind kind_;
  double delta_;
  std::vector<double> block_sums_;  // see detail::sum_in_blocks
};

}  // namespace dlrun
