// Metrics accumulated over the batches of one pass (an epoch's training batches, or an evaluation):
// accuracy, top_k_accuracy (k = 5), macro precision / recall / f1 from the confusion matrix
// (averaged over the classes that occur in the targets or the predictions, as scikit-learn does)
// for classification; mae, rmse and r2 over all output elements for regression and autoencoders.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "losses/loss.hpp"

namespace dlrun {

using MetricValues = std::vector<std::pair<std::string, double>>;  // in report order

// Returns the value of `name` in `values`, or NaN.
double metric_value(const MetricValues& values, std::string_view name);

bool is_classification_metric(std::string_view name);
bool is_regression_metric(std::string_view name);
const std::vector<std::string>& known_metrics();

class MetricAccumulator {
 public:
  // classes > 0: classification over that many classes (one output with classes == 2 means a
  // binary logit). classes == 0: regression.
  MetricAccumulator(std::vector<std::string> names, Index classes);

  void reset();
  // predictions: logits (N, C) / (N, T, C) or (N, 1) for binary; or values for regression.
  // `loss_sum` is the batch's mean loss times its example count.
  void add(const Tensor& predictions, const BatchTargets& targets, double batch_loss, Index examples);

  // {"loss", ...names} in that order.
  MetricValues results() const;
  const std::vector<std::vector<std::int64_t>>& confusion() const { return confusion_; }
  // Per-class precision, recall, f1 (classification only).
  struct ClassScores {
    double precision = 0, recall = 0, f1 = 0;
    std::int64_t support = 0;
  };
  std::vector<ClassScores> per_class() const;

  // The running sums, for mid-epoch checkpoints. from_json throws DataError (and keeps the current
  // sums) when `value` is malformed or holds another number of classes.
  nlohmann::json to_json() const;
  void from_json(const nlohmann::json& value);

  // The running sums as one list of numbers (counts are exact in a double up to 2^53), so that the
  // ranks of a data-parallel run add theirs up with one allreduce: append_sums writes them after
  // `out`'s current end; add_sums adds a list of the same layout (from an accumulator with the
  // same metrics and classes) and returns the numbers it read.
  void append_sums(std::vector<double>& out) const;
  std::size_t add_sums(std::span<const double> sums);

 private:
  std::vector<std::string> names_;
  Index classes_;
  double loss_sum_ = 0.0;
  Index examples_ = 0;
  // classification
  std::vector<std::vector<std::int64_t>> confusion_;  // [true][predicted]
  std::int64_t top_k_hits_ = 0;
  std::int64_t predictions_ = 0;
  // regression
  double abs_sum_ = 0.0, sq_sum_ = 0.0, target_sum_ = 0.0, target_sq_sum_ = 0.0;
  std::int64_t values_ = 0;
};

}  // namespace dlrun
