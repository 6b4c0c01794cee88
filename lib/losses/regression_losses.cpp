#include "losses/regression_losses.hpp"

#include <algorithm>
#include <cmath>

#include "core/errors.hpp"
#include "losses/block_sum.hpp"
#include "losses/target_checks.hpp"

namespace dlrun {
namespace {

constexpr Index kBlockElements = 4096;
constexpr Index kParallelElements = 65536;  // a few flops per element: threads pay only late

// Sum of the per-element loss over [begin, end) and, when grad is not null, its gradient times
// `scale` (1 / count). One loop per kind so each stays branch-light and vectorisable.
double regression_block(RegressionKind kind, double delta, const float* x, const float* t, float* grad,
                        float scale, Index begin, Index end) {
  double total = 0.0;
  switch (kind) {
    case RegressionKind::mse:
      for (Index i = begin; i < end; ++i) {
        const float d = x[i] - t[i];
        total += static_cast<double>(d) * d;
        if (grad != nullptr) grad[i] = 2.0f * d * scale;
      }
      break;
    case RegressionKind::mae:
      for (Index i = begin; i < end; ++i) {
        const float d = x[i] - t[i];
        total += std::abs(d);
        // sign(d), 0 at d == 0: PyTorch's L1Loss gradient.
        if (grad != nullptr) grad[i] = static_cast<float>((d > 0.0f) - (d < 0.0f)) * scale;
      }
      break;
    case RegressionKind::huber: {
      const auto delta_f = static_cast<float>(delta);
      for (Index i = begin; i < end; ++i) {
        const float d = x[i] - t[i];
        const float a = std::abs(d);
        total += a <= delta_f ? 0.5 * static_cast<double>(d) * d : delta * (a - 0.5 * delta);
        if (grad != nullptr) grad[i] = std::clamp(d, -delta_f, delta_f) * scale;
      }
      break;
    }
  }
  return total;
}

}  // namespace

RegressionLoss::RegressionLoss(RegressionKind kind, double delta) : kind_(kind), delta_(delta) {
  require(delta_ > 0.0, "huber: delta must be > 0");
}

std::string_view RegressionLoss::type() const {
  switch (kind_) {
    case RegressionKind::mse:
      return "mse";
    case RegressionKind::mae:
      return "mae";
    case RegressionKind::huber:
      return "huber";
  }
  return "?";
}

double RegressionLoss::forward_backward(const Tensor& predictions, const BatchTargets& targets,
                                        Tensor* grad) {
  const float* t = detail::value_targets(type(), predictions, targets).data();
  const Index count = predictions.size();
  if (grad != nullptr) grad->resize(predictions.shape());
  if (count == 0) return 0.0;
  const float* x = predictions.data();
  float* grad_data = grad != nullptr ? grad->data() : nullptr;
  const float scale = 1.0f / static_cast<float>(count);
  const double total = detail::sum_in_blocks(
      count, kBlockElements, kParallelElements, block_sums_, [&](Index begin, Index end) {
        return regression_block(kind_, delta_, x, t, grad_data, scale, begin, end);
      });
  return total / static_cast<double>(count);
}

}  // namespace dlrun
