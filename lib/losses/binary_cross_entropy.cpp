#include "losses/binary_cross_entropy.hpp"

#include <algorithm>
#include <cmath>

#include "core/errors.hpp"
#include "losses/block_sum.hpp"
#include "losses/target_checks.hpp"

namespace dlrun {
namespace {

constexpr Index kBlockElements = 4096;
constexpr Index kParallelElements = 32768;

}  // namespace

double BinaryCrossEntropyLoss::forward_backward(const Tensor& predictions, const BatchTargets& targets,
                                                Tensor* grad) {
  const Shape& shape = predictions.shape();
  const Index count = predictions.size();
  const float* labels_as_values = nullptr;
  if (targets.values != nullptr) {
    labels_as_values = detail::value_targets(type(), predictions, targets).data();
  } else {
    // One 0/1 label per example: the predictions are (N, 1) or (N,).
    if (shape.rank() < 1 || count != shape[0] || static_cast<Index>(targets.labels.size()) != count) {
      throw ShapeError("binary_cross_entropy: " + std::to_string(targets.labels.size()) +
                       " labels for predictions " + shape.to_string() +
                       " (labels need one output per example, (N, 1))");
    }
    for (const std::int32_t label : targets.labels) {
      if (label != 0 && label != 1) {
        throw DataError("label " + std::to_string(label) + " out of range for binary_cross_entropy (0 or 1)");
      }
    }
  }
  if (grad != nullptr) grad->resize(shape);
  if (count == 0) return 0.0;

  const float* x = predictions.data();
  float* grad_data = grad != nullptr ? grad->data() : nullptr;
  const float inv_count = 1.0f / static_cast<float>(count);
  auto target = [&](Index i) {
    return labels_as_values != nullptr ? labels_as_values[i]
                                       : static_cast<float>(targets.labels[static_cast<std::size_t>(i)]);
  };
  auto block_sum = [&](Index begin, Index end) {
    double total = 0.0;
    for (Index i = begin; i < end; ++i) {
      const float y = target(i);
      // log(1 + exp(-|x|)) never overflows; log1p keeps it accurate when exp(-|x|) is tiny.
      const float e = std::exp(-std::abs(x[i]));
      total += std::max(x[i], 0.0f) - x[i] * y + std::log1p(e);
      if (grad_data != nullptr) {
        // sigmoid(x) from the same e: 1 / (1 + e) for x >= 0, e / (1 + e) for x < 0.
        const float sigmoid = x[i] >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
        grad_data[i] = (sigmoid - y) * inv_count;
      }
    }
    return total;
  };
  const double total =
      detail::sum_in_blocks(count, kBlockElements, kParallelElements, block_sums_, block_sum);
  return total / static_cast<double>(count);
}

}  // namespace dlrun
