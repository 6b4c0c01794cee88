#include "train/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/errors.hpp"

namespace dlrun {
namespace {
constexpr Index kTopK = 5;
}

const std::vector<std::string>& known_metrics() {
  static const std::vector<std::string> names{"accuracy", "top_k_accuracy", "precision", "recall", "f1",
                                              "mae",      "rmse",           "r2"};
  return names;
}

bool is_classification_metric(std::string_view name) {
  return name == "accuracy" || name == "top_k_accuracy" || name == "precision" || name == "recall" ||
         name == "f1";
}

bool is_regression_metric(std::string_view name) {
  return name == "mae" || name == "rmse" || name == "r2";
}

double metric_value(const MetricValues& values, std::string_view name) {
  for (const auto& [key, value] : values) {
    if (key == name) return value;
  }
  return std::numeric_limits<double>::quiet_NaN();
}

MetricAccumulator::MetricAccumulator(std::vector<std::string> names, Index classes)
    : names_(std::move(names)), classes_(classes) {
  reset();
}

void MetricAccumulator::reset() {
  loss_sum_ = 0.0;
  examples_ = 0;
  confusion_.assign(static_cast<std::size_t>(classes_),
                    std::vector<std::int64_t>(static_cast<std::size_t>(classes_), 0));
  top_k_hits_ = predictions_ = 0;
  abs_sum_ = sq_sum_ = target_sum_ = target_sq_sum_ = 0.0;
  values_ = 0;
}

void MetricAccumulator::add(const Tensor& predictions, const BatchTargets& targets, double batch_loss,
                            Index examples) {
  loss_sum_ += batch_loss * static_cast<double>(examples);
  examples_ += examples;
  if (classes_ > 0 && !targets.labels.empty()) {
    const Index rows = static_cast<Index>(targets.labels.size());
    const Index width = predictions.size() / rows;
    const float* p = predictions.data();
    for (Index r = 0; r < rows; ++r) {
      const std::int32_t truth = targets.labels[static_cast<std::size_t>(r)];
      const float* row = p + r * width;
      Index predicted = 0;
      if (width == 1) {
        predicted = row[0] > 0.0f ? 1 : 0;  // binary logit
      } else {
        predicted = static_cast<Index>(std::max_element(row, row + width) - row);
        if (truth >= 0 && truth < width) {  // a label outside the classes is a miss, not a read past the row
          Index above = 0;                  // classes scoring strictly higher than the truth
          for (Index c = 0; c < width; ++c) above += row[c] > row[truth] ? 1 : 0;
          top_k_hits_ += above < kTopK ? 1 : 0;
        }
      }
      if (width == 1) top_k_hits_ += 1;  // top-5 of 2 classes is always a hit
      if (truth >= 0 && truth < classes_ && predicted < classes_) {
        ++confusion_[static_cast<std::size_t>(truth)][static_cast<std::size_t>(predicted)];
      }
      ++predictions_;
    }
    return;
  }
  if (targets.values != nullptr) {
    const Tensor& t = *targets.values;
    for (Index i = 0; i < predictions.size(); ++i) {
      const double y = t[i];
      const double d = static_cast<double>(predictions[i]) - y;
      abs_sum_ += std::abs(d);
      sq_sum_ += d * d;
      target_sum_ += y;
      target_sq_sum_ += y * y;
    }
    values_ += predictions.size();
  }
}

std::vector<MetricAccumulator::ClassScores> MetricAccumulator::per_class() const {
  std::vector<ClassScores> scores(static_cast<std::size_t>(classes_));
  for (Index c = 0; c < classes_; ++c) {
    std::int64_t true_positive = confusion_[c][c], predicted = 0, actual = 0;
    for (Index o = 0; o < classes_; ++o) {
      predicted += confusion_[o][c];
      actual += confusion_[c][o];
    }
    ClassScores& s = scores[static_cast<std::size_t>(c)];
    s.support = actual;
    s.precision = predicted > 0 ? static_cast<double>(true_positive) / predicted : 0.0;
    s.recall = actual > 0 ? static_cast<double>(true_positive) / actual : 0.0;
    s.f1 = s.precision + s.recall > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0.0;
  }
  return scores;
}

MetricValues MetricAccumulator::results() const {
  MetricValues values;
  values.emplace_back("loss", examples_ > 0 ? loss_sum_ / static_cast<double>(examples_) : 0.0);
  const auto scores = classes_ > 0 ? per_class() : std::vector<ClassScores>{};
  // Macro averages run over the classes that occur in the targets or the predictions, as
  // scikit-learn's (labels=None) and torchmetrics' do: a class absent from a small validation
  // split would otherwise count as a score of 0.
  std::vector<bool> seen(scores.size(), false);
  for (std::size_t c = 0; c < scores.size(); ++c) {
    for (std::size_t o = 0; o < scores.size(); ++o) {
      if (confusion_[c][o] > 0 || confusion_[o][c] > 0) seen[c] = true;
    }
  }
  auto macro = [&](double ClassScores::*field) {
    double sum = 0.0;
    Index count = 0;
    for (std::size_t c = 0; c < scores.size(); ++c) {
      if (!seen[c]) continue;
      sum += scores[c].*field;
      ++count;
    }
    return count > 0 ? sum / static_cast<double>(count) : 0.0;
  };
  for (const std::string& name : names_) {
    double value = std::numeric_limits<double>::quiet_NaN();
    if (name == "accuracy") {
      std::int64_t correct = 0;
      for (Index c = 0; c < classes_; ++c) correct += confusion_[c][c];
      value = predictions_ > 0 ? static_cast<double>(correct) / static_cast<double>(predictions_) : 0.0;
    } else if (name == "top_k_accuracy") {
      value = predictions_ > 0 ? static_cast<double>(top_k_hits_) / static_cast<double>(predictions_) : 0.0;
    } else if (name == "precision") {
      value = macro(&ClassScores::precision);
    } else if (name == "recall") {
      value = macro(&ClassScores::recall);
    } else if (name == "f1") {
      value = macro(&ClassScores::f1);
    } else if (name == "mae") {
      value = values_ > 0 ? abs_sum_ / static_cast<double>(values_) : 0.0;
    } else if (name == "rmse") {
      value = values_ > 0 ? std::sqrt(sq_sum_ / static_cast<double>(values_)) : 0.0;
    } else if (name == "r2") {
      const double n = static_cast<double>(values_);
      const double total = n > 0 ? target_sq_sum_ - target_sum_ * target_sum_ / n : 0.0;
      value = total > 0 ? 1.0 - sq_sum_ / total : 0.0;
    }
    values.emplace_back(name, value);
  }
  return values;
}

void MetricAccumulator::append_sums(std::vector<double>& out) const {
  out.insert(out.end(), {loss_sum_, static_cast<double>(examples_), static_cast<double>(top_k_hits_),
                         static_cast<double>(predictions_), abs_sum_, sq_sum_, target_sum_, target_sq_sum_,
                         static_cast<double>(values_)});
  for (const auto& row : confusion_) {
    for (const std::int64_t count : row) out.push_back(static_cast<double>(count));
  }
}

std::size_t MetricAccumulator::add_sums(std::span<const double> sums) {
  const std::size_t used = 9 + static_cast<std::size_t>(classes_ * classes_);
  require(sums.size() >= used, "MetricAccumulator::add_sums: too few numbers");
  auto count = [](double value) { return static_cast<std::int64_t>(std::llround(value)); };
  loss_sum_ += sums[0];
  examples_ += count(sums[1]);
  top_k_hits_ += count(sums[2]);
  predictions_ += count(sums[3]);
  abs_sum_ += sums[4];
  sq_sum_ += sums[5];
  target_sum_ += sums[6];
  target_sq_sum_ += sums[7];
  values_ += count(sums[8]);
  std::size_t at = 9;
  for (auto& row : confusion_) {
    for (std::int64_t& cell : row) cell += count(sums[at++]);
  }
  return used;
}

nlohmann::json MetricAccumulator::to_json() const {
  return {{"loss_sum", loss_sum_},     {"examples", examples_},       {"confusion", confusion_},
          {"top_k_hits", top_k_hits_}, {"predictions", predictions_}, {"abs_sum", abs_sum_},
          {"sq_sum", sq_sum_},         {"target_sum", target_sum_},   {"target_sq_sum", target_sq_sum_},
          {"values", values_}};
}

void MetricAccumulator::from_json(const nlohmann::json& value) {
  // The sums come from a checkpoint file: anything malformed is a DataError, and nothing changes
  // unless all of it reads.
  MetricAccumulator restored(names_, classes_);
  try {
    restored.loss_sum_ = value.at("loss_sum").get<double>();
    restored.examples_ = value.at("examples").get<Index>();
    restored.confusion_ = value.at("confusion").get<std::vector<std::vector<std::int64_t>>>();
    restored.top_k_hits_ = value.at("top_k_hits").get<std::int64_t>();
    restored.predictions_ = value.at("predictions").get<std::int64_t>();
    restored.abs_sum_ = value.at("abs_sum").get<double>();
    restored.sq_sum_ = value.at("sq_sum").get<double>();
    restored.target_sum_ = value.at("target_sum").get<double>();
    restored.target_sq_sum_ = value.at("target_sq_sum").get<double>();
    restored.values_ = value.at("values").get<std::int64_t>();
  } catch (const nlohmann::json::exception& error) {
    throw DataError(std::string("malformed metric sums: ") + error.what());
  }
  const auto classes = static_cast<std::size_t>(classes_);
  const bool square = std::all_of(restored.confusion_.begin(), restored.confusion_.end(),
                                  [&](const auto& row) { return row.size() == classes; });
  if (restored.confusion_.size() != classes || !square) {
    throw DataError("malformed metric sums: a confusion matrix of " +
                    std::to_string(restored.confusion_.size()) + " rows for " + std::to_string(classes_) +
                    " classes");
  }
  *this = std::move(restored);
}

}  // namespace dlrun
