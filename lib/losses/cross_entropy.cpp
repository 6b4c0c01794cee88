#include "losses/cross_entropy.hpp"

#include <algorithm>
#include <cmath>

#include "core/errors.hpp"
#include "losses/block_sum.hpp"

namespace dlrun {
namespace {

constexpr Index kBlockElements = 4096;      // about this many logits per block
constexpr Index kParallelElements = 32768;  // below this, one thread

void check_labels(std::span<const std::int32_t> labels, Index classes) {
  for (const std::int32_t label : labels) {
    if (label < 0 || label >= classes) {
      throw DataError("label " + std::to_string(label) + " out of range for " + std::to_string(classes) +
                      " outputs");
    }
  }
}

}  // namespace

CrossEntropyLoss::CrossEntropyLoss(double label_smoothing) : label_smoothing_(label_smoothing) {
  require(label_smoothing_ >= 0.0 && label_smoothing_ < 1.0,
          "cross_entropy: label_smoothing must be in [0, 1)");
}

double CrossEntropyLoss::forward_backward(const Tensor& predictions, const BatchTargets& targets,
                                          Tensor* grad) {
  const Shape& shape = predictions.shape();
  if (shape.rank() != 2 && shape.rank() != 3) {
    throw ShapeError("cross_entropy expects logits (N, C) or (N, T, C), got " + shape.to_string());
  }
  const Index classes = shape[shape.rank() - 1];
  const Index rows = classes > 0 ? predictions.size() / classes : 0;
  if (targets.labels.empty() && targets.values != nullptr && rows > 0) {
    throw ShapeError("cross_entropy needs class labels, got value targets");
  }
  if (static_cast<Index>(targets.labels.size()) != rows) {
    throw ShapeError("cross_entropy: " + std::to_string(targets.labels.size()) + " labels for predictions " +
                     shape.to_string() + " (expected " + std::to_string(rows) + ")");
  }
  check_labels(targets.labels, classes);
  if (grad != nullptr) grad->resize(shape);
  if (rows == 0) return 0.0;

  const float* logits = predictions.data();
  float* grad_data = grad != nullptr ? grad->data() : nullptr;
  const double smoothing = label_smoothing_;
  const double off_target = smoothing / static_cast<double>(classes);  // smoothed target mass per class
  const float inv_rows = 1.0f / static_cast<float>(rows);
  // Per row, with q the smoothed target and lse = log sum exp(x) = max + log sum exp(x - max):
  //   -sum_c q_c log p_c = lse - (1 - s) x_y - (s / C) sum_c x_c.
  auto rows_sum = [&](Index begin, Index end) {
    double total = 0.0;
    for (Index r = begin; r < end; ++r) {
      const float* x = logits + r * classes;
      const auto label = static_cast<Index>(targets.labels[static_cast<std::size_t>(r)]);
      const float max = *std::max_element(x, x + classes);
      // exp(x_c - max) goes into the gradient row when there is one, so it is computed once.
      float* g = grad_data != nullptr ? grad_data + r * classes : nullptr;
      double exp_sum = 0.0;
      double logit_sum = 0.0;
      for (Index c = 0; c < classes; ++c) {
        const float e = std::exp(x[c] - max);
        if (g != nullptr) g[c] = e;
        exp_sum += e;
        logit_sum += x[c];
      }
      total += max + std::log(exp_sum) - (1.0 - smoothing) * x[label] - off_target * logit_sum;
      if (g != nullptr) {
        // d/dx_c = (softmax_c - q_c) / rows.
        const auto scale = static_cast<float>(1.0 / exp_sum);
        const auto off = static_cast<float>(off_target);
        for (Index c = 0; c < classes; ++c) g[c] = (g[c] * scale - off) * inv_rows;
        g[label] -= static_cast<float>(1.0 - smoothing) * inv_rows;
      }
    }
    return total;
  };
  const Index block_rows = std::max<Index>(1, kBlockElements / classes);
  const double total = detail::sum_in_blocks(
      rows, block_rows, std::max<Index>(1, kParallelElements / classes), block_sums_, rows_sum);
  return total / static_cast<double>(rows);
}

}  // namespace dlrun
