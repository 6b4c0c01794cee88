// MetricAccumulator: classification metrics from logits against hand-computed confusion matrices
// and scikit-learn's values, binary (one logit) accuracy, regression metrics, the results' order,
// and the JSON round trip used by mid-epoch checkpoints.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "train/metrics.hpp"

using namespace dlrun;

namespace {

// Logits (N, classes) whose argmax is predicted[n]: 1 for the predicted class, and a small
// descending ramp elsewhere so that no two scores tie.
Tensor logits_predicting(const std::vector<int>& predicted, Index classes) {
  const auto n = static_cast<Index>(predicted.size());
  Tensor logits(Shape{n, classes});
  for (Index r = 0; r < n; ++r) {
    for (Index c = 0; c < classes; ++c) logits[r * classes + c] = -0.01f * static_cast<float>(c);
    logits[r * classes + predicted[static_cast<std::size_t>(r)]] = 1.0f;
  }
  return logits;
}

Tensor tensor_of(const Shape& shape, const std::vector<float>& values) {
  Tensor tensor(shape);
  REQUIRE(static_cast<Index>(values.size()) == tensor.size());
  for (Index i = 0; i < tensor.size(); ++i) tensor[i] = values[static_cast<std::size_t>(i)];
  return tensor;
}

BatchTargets labels_of(const std::vector<std::int32_t>& labels) {
  return BatchTargets{labels, nullptr};
}

// The example below: 4 classes, 10 examples.
const std::vector<std::int32_t> kTruth{0, 0, 0, 1, 1, 2, 2, 2, 2, 3};
const std::vector<int> kPredicted{0, 1, 0, 1, 2, 2, 2, 0, 2, 1};

}  // namespace

TEST_CASE("metrics: accuracy, confusion matrix and macro precision/recall/f1 of a 4-class example") {
  MetricAccumulator metrics({"accuracy", "precision", "recall", "f1"}, 4);
  metrics.add(logits_predicting(kPredicted, 4), labels_of(kTruth), 0.0, 10);

  // Rows are the true class, columns the predicted one.
  const std::vector<std::vector<std::int64_t>> confusion{
      {2, 1, 0, 0}, {0, 1, 1, 0}, {1, 0, 3, 0}, {0, 1, 0, 0}};
  CHECK(metrics.confusion() == confusion);

  // By hand from the confusion matrix: precision = diagonal / column sum, recall = diagonal / row sum.
  const auto scores = metrics.per_class();
  REQUIRE(scores.size() == 4);
  CHECK(scores[0].precision == doctest::Approx(2.0 / 3));
  CHECK(scores[1].precision == doctest::Approx(1.0 / 3));
  CHECK(scores[2].precision == doctest::Approx(3.0 / 4));
  CHECK(scores[3].precision == 0.0);  // never predicted: 0 (sklearn's zero_division=0)
  CHECK(scores[0].recall == doctest::Approx(2.0 / 3));
  CHECK(scores[1].recall == doctest::Approx(1.0 / 2));
  CHECK(scores[2].recall == doctest::Approx(3.0 / 4));
  CHECK(scores[3].recall == 0.0);
  CHECK(scores[1].f1 == doctest::Approx(0.4));  // 2 * (1/3 * 1/2) / (1/3 + 1/2)
  CHECK(scores[3].f1 == 0.0);
  CHECK(scores[0].support == 3);
  CHECK(scores[1].support == 2);
  CHECK(scores[2].support == 4);
  CHECK(scores[3].support == 1);

  // Expected values from scikit-learn 1.2.1 (Debian's /usr/bin/python3):
  //   y_true = [0,0,0,1,1,2,2,2,2,3]; y_pred = [0,1,0,1,2,2,2,0,2,1]
  //   accuracy_score -> 0.6; {precision,recall,f1}_score(average='macro', zero_division=0)
  //   -> 0.4375, 0.47916666666666663, 0.45416666666666666
  const MetricValues values = metrics.results();
  CHECK(metric_value(values, "accuracy") == doctest::Approx(0.6));
  CHECK(metric_value(values, "precision") == doctest::Approx(0.4375));
  CHECK(metric_value(values, "recall") == doctest::Approx(0.47916666666666663));
  CHECK(metric_value(values, "f1") == doctest::Approx(0.45416666666666666));
}

TEST_CASE("metrics: macro averages skip classes that neither occur nor are predicted (as sklearn)") {
  // The same example with a fifth class that this pass never sees (a small validation split):
  // sklearn's macro average is over the labels present in y_true or y_pred, so it is unchanged;
  // averaging over all 5 classes would give precision 0.35 (sklearn with labels=range(5)).
  MetricAccumulator metrics({"precision", "recall", "f1"}, 5);
  metrics.add(logits_predicting(kPredicted, 5), labels_of(kTruth), 0.0, 10);
  const MetricValues values = metrics.results();
  CHECK(metric_value(values, "precision") == doctest::Approx(0.4375));
  CHECK(metric_value(values, "recall") == doctest::Approx(0.47916666666666663));
  CHECK(metric_value(values, "f1") == doctest::Approx(0.45416666666666666));
  // per_class still reports every class.
  REQUIRE(metrics.per_class().size() == 5);
  CHECK(metrics.per_class()[4].support == 0);
}

TEST_CASE("metrics: batches accumulate, the loss is the example-weighted mean of batch losses") {
  MetricAccumulator metrics({"accuracy", "f1"}, 4);
  const std::vector<std::int32_t> first(kTruth.begin(), kTruth.begin() + 4);
  const std::vector<std::int32_t> second(kTruth.begin() + 4, kTruth.end());
  metrics.add(logits_predicting({kPredicted.begin(), kPredicted.begin() + 4}, 4), labels_of(first), 0.5, 4);
  metrics.add(logits_predicting({kPredicted.begin() + 4, kPredicted.end()}, 4), labels_of(second), 1.0, 6);
  const MetricValues values = metrics.results();
  CHECK(metric_value(values, "loss") == doctest::Approx((0.5 * 4 + 1.0 * 6) / 10));
  CHECK(metric_value(values, "accuracy") == doctest::Approx(0.6));
  CHECK(metric_value(values, "f1") == doctest::Approx(0.45416666666666666));

  metrics.reset();
  const MetricValues empty = metrics.results();
  CHECK(metric_value(empty, "loss") == 0.0);
  CHECK(metric_value(empty, "accuracy") == 0.0);
  CHECK(metrics.confusion() == std::vector<std::vector<std::int64_t>>(4, std::vector<std::int64_t>(4, 0)));
}

TEST_CASE("metrics: top_k_accuracy counts the truth among the 5 highest scores") {
  // scikit-learn 1.2.1: top_k_accuracy_score([0,1,2,6], scores, k=5, labels=range(7)) -> 0.5, and
  // accuracy_score of the argmax -> 0.25. Ranks of the truth: 1, 5, 6, 7.
  const Tensor scores = tensor_of(Shape{4, 7}, {5, 1, 2, 3, 4, 0, -1,  //
                                                6, 2, 5, 4, 3, 1, 0,   //
                                                6, 5, 1, 4, 3, 2, 0,   //
                                                1, 2, 3, 4, 5, 6, 0});
  MetricAccumulator metrics({"top_k_accuracy", "accuracy"}, 7);
  metrics.add(scores, labels_of({0, 1, 2, 6}), 0.0, 4);
  CHECK(metric_value(metrics.results(), "top_k_accuracy") == doctest::Approx(0.5));
  CHECK(metric_value(metrics.results(), "accuracy") == doctest::Approx(0.25));

  // With 5 classes or fewer every example is a top-5 hit.
  MetricAccumulator few({"top_k_accuracy"}, 3);
  few.add(logits_predicting({2, 2}, 3), labels_of({0, 1}), 0.0, 2);
  CHECK(metric_value(few.results(), "top_k_accuracy") == 1.0);
}

TEST_CASE("metrics: sequences of labels, (N, T, C) logits with N*T labels") {
  Tensor logits = logits_predicting({0, 1, 1, 2, 2, 0}, 3);
  logits.reshape(Shape{2, 3, 3});
  MetricAccumulator metrics({"accuracy"}, 3);
  metrics.add(logits, labels_of({0, 1, 2, 2, 2, 1}), 0.0, 2);
  CHECK(metric_value(metrics.results(), "accuracy") == doctest::Approx(4.0 / 6));
}

TEST_CASE("metrics: a label outside the classes counts as a miss and never reads out of bounds") {
  MetricAccumulator metrics({"accuracy", "top_k_accuracy"}, 3);
  metrics.add(logits_predicting({0, 1}, 3), labels_of({0, 7}), 0.0, 2);
  CHECK(metric_value(metrics.results(), "accuracy") == doctest::Approx(0.5));
  CHECK(metric_value(metrics.results(), "top_k_accuracy") == doctest::Approx(0.5));
}

TEST_CASE("metrics: binary classification from one logit (positive when the logit is > 0)") {
  // labels [1,0,0,0,1], logits [2,-1,0.5,-0.3,0] -> predicted [1,0,1,0,0].
  // scikit-learn 1.2.1: accuracy 0.6; macro precision, recall and f1 all 0.5833333333333333.
  MetricAccumulator metrics({"accuracy", "precision", "recall", "f1", "top_k_accuracy"}, 2);
  metrics.add(tensor_of(Shape{5, 1}, {2.0f, -1.0f, 0.5f, -0.3f, 0.0f}), labels_of({1, 0, 0, 0, 1}), 0.0, 5);
  CHECK(metrics.confusion() == std::vector<std::vector<std::int64_t>>{{2, 1}, {1, 1}});
  const MetricValues values = metrics.results();
  CHECK(metric_value(values, "accuracy") == doctest::Approx(0.6));
  CHECK(metric_value(values, "precision") == doctest::Approx(0.5833333333333333));
  CHECK(metric_value(values, "recall") == doctest::Approx(0.5833333333333333));
  CHECK(metric_value(values, "f1") == doctest::Approx(0.5833333333333333));
  CHECK(metric_value(values, "top_k_accuracy") == 1.0);
}

TEST_CASE("metrics: mae, rmse and r2 against hand values (and scikit-learn)") {
  // predictions [1,2,3,4], targets [1.5,2,2,5]: errors [-0.5,0,1,-1].
  // mae = 2.5/4; rmse = sqrt(2.25/4); r2 = 1 - 2.25/7.6875 (mean target 2.625).
  // scikit-learn 1.2.1: mean_absolute_error 0.625, sqrt(mean_squared_error) 0.75,
  // r2_score 0.7073170731707317.
  const Tensor targets = tensor_of(Shape{4, 1}, {1.5f, 2.0f, 2.0f, 5.0f});
  MetricAccumulator metrics({"mae", "rmse", "r2"}, 0);
  metrics.add(tensor_of(Shape{4, 1}, {1, 2, 3, 4}), BatchTargets{{}, &targets}, 0.5625, 4);
  const MetricValues values = metrics.results();
  CHECK(metric_value(values, "loss") == doctest::Approx(0.5625));
  CHECK(metric_value(values, "mae") == doctest::Approx(0.625));
  CHECK(metric_value(values, "rmse") == doctest::Approx(0.75));
  CHECK(metric_value(values, "r2") == doctest::Approx(0.7073170731707317));

  // Split over two batches: the same values (r2 from running sums, not per batch).
  const Tensor t1 = tensor_of(Shape{1, 1}, {1.5f});
  const Tensor t2 = tensor_of(Shape{3, 1}, {2.0f, 2.0f, 5.0f});
  MetricAccumulator split({"mae", "rmse", "r2"}, 0);
  split.add(tensor_of(Shape{1, 1}, {1}), BatchTargets{{}, &t1}, 0.25, 1);
  split.add(tensor_of(Shape{3, 1}, {2, 3, 4}), BatchTargets{{}, &t2}, 2.0 / 3, 3);
  const MetricValues split_values = split.results();
  for (const char* name : {"loss", "mae", "rmse", "r2"}) {
    CHECK(metric_value(split_values, name) == doctest::Approx(metric_value(values, name)));
  }

  // Multi-output targets are pooled over all elements: mean |error| over the 4 values.
  const Tensor wide = tensor_of(Shape{2, 2}, {1.5f, 2.0f, 2.0f, 5.0f});
  MetricAccumulator pooled({"mae"}, 0);
  pooled.add(tensor_of(Shape{2, 2}, {1, 2, 3, 4}), BatchTargets{{}, &wide}, 0.0, 2);
  CHECK(metric_value(pooled.results(), "mae") == doctest::Approx(0.625));
}

TEST_CASE("metrics: results are loss first, then the configured names in order, lookups") {
  MetricAccumulator metrics({"f1", "accuracy", "top_k_accuracy"}, 3);
  metrics.add(logits_predicting({0, 1}, 3), labels_of({0, 1}), 0.25, 2);
  const MetricValues values = metrics.results();
  REQUIRE(values.size() == 4);
  CHECK(values[0].first == "loss");
  CHECK(values[1].first == "f1");
  CHECK(values[2].first == "accuracy");
  CHECK(values[3].first == "top_k_accuracy");
  CHECK(values[0].second == doctest::Approx(0.25));
  CHECK(metric_value(values, "accuracy") == 1.0);
  CHECK(std::isnan(metric_value(values, "rmse")));
  CHECK(std::isnan(metric_value(values, "val_accuracy")));

  CHECK(is_classification_metric("f1"));
  CHECK_FALSE(is_classification_metric("mae"));
  CHECK(is_regression_metric("r2"));
  CHECK_FALSE(is_regression_metric("accuracy"));
  for (const std::string& name : known_metrics()) {
    CHECK(is_classification_metric(name) != is_regression_metric(name));
  }
}

TEST_CASE("metrics: to_json / from_json carries the running sums (mid-epoch resume)") {
  MetricAccumulator first({"accuracy", "f1", "top_k_accuracy"}, 4);
  first.add(logits_predicting({kPredicted.begin(), kPredicted.begin() + 5}, 4),
            labels_of({kTruth.begin(), kTruth.begin() + 5}), 0.7, 5);
  const nlohmann::json saved = nlohmann::json::parse(first.to_json().dump());

  MetricAccumulator resumed({"accuracy", "f1", "top_k_accuracy"}, 4);
  resumed.from_json(saved);
  CHECK(resumed.confusion() == first.confusion());
  CHECK(resumed.results() == first.results());

  // Continuing both with the rest of the epoch gives the same results as one uninterrupted pass.
  const std::vector<int> rest_predicted(kPredicted.begin() + 5, kPredicted.end());
  const std::vector<std::int32_t> rest_truth(kTruth.begin() + 5, kTruth.end());
  first.add(logits_predicting(rest_predicted, 4), labels_of(rest_truth), 0.1, 5);
  resumed.add(logits_predicting(rest_predicted, 4), labels_of(rest_truth), 0.1, 5);
  CHECK(resumed.results() == first.results());
  CHECK(metric_value(resumed.results(), "loss") == doctest::Approx(0.4));
  CHECK(metric_value(resumed.results(), "accuracy") == doctest::Approx(0.6));

  // Regression sums too.
  const Tensor targets = tensor_of(Shape{4, 1}, {1.5f, 2.0f, 2.0f, 5.0f});
  MetricAccumulator regression({"mae", "rmse", "r2"}, 0);
  regression.add(tensor_of(Shape{4, 1}, {1, 2, 3, 4}), BatchTargets{{}, &targets}, 0.5625, 4);
  MetricAccumulator regression_resumed({"mae", "rmse", "r2"}, 0);
  regression_resumed.from_json(regression.to_json());
  CHECK(regression_resumed.results() == regression.results());
}

TEST_CASE("metrics: from_json rejects malformed sums with a DataError and changes nothing") {
  MetricAccumulator metrics({"accuracy"}, 3);
  metrics.add(logits_predicting({0, 1}, 3), labels_of({0, 2}), 0.5, 2);
  const MetricValues before = metrics.results();

  nlohmann::json other_classes = MetricAccumulator({"accuracy"}, 4).to_json();
  CHECK_THROWS_AS(metrics.from_json(other_classes), DataError);
  nlohmann::json ragged = metrics.to_json();
  ragged["confusion"][1] = {1, 2};
  CHECK_THROWS_AS(metrics.from_json(ragged), DataError);
  nlohmann::json missing = metrics.to_json();
  missing.erase("sq_sum");
  CHECK_THROWS_AS(metrics.from_json(missing), DataError);
  nlohmann::json wrong_type = metrics.to_json();
  wrong_type["examples"] = "many";
  CHECK_THROWS_AS(metrics.from_json(wrong_type), DataError);
  CHECK(metrics.results() == before);
}
