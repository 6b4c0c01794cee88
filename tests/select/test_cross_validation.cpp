// cross_validate / run_fold: no leakage from the held-out fold (the fitted transform and the
// training history, early stopping included, ignore it), the summary statistics, and results
// that do not depend on how many folds run at once (nor on how the threads are divided among them).
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "config/parse_config.hpp"
#include "config/yaml_loader.hpp"
#include "core/threads.hpp"
#include "select/cross_validation.hpp"
#include "support/shuffled_farm.hpp"
#include "support/temp_dir.hpp"

using namespace dlrun;

namespace {

// 60 rows of 3 features on very different scales, two classes separable by a noisy rule.
std::string blobs_csv() {
  std::string text = "a,b,c,y\n";
  Rng rng(5);
  for (int i = 0; i < 60; ++i) {
    const int label = i % 2;
    const double a = label + 0.6 * rng.normal();
    const double b = 100.0 + 40.0 * rng.normal();
    const double c = 0.01 * (label - 0.5) + 0.01 * rng.normal();
    text += std::to_string(a) + "," + std::to_string(b) + "," + std::to_string(c) + "," +
            (label ? "yes" : "no") + "\n";
  }
  return text;
}

Config cv_config(const testing::TempDir& dir) {
  const auto file = dir / "cv.yaml";
  const std::string text =
      "seed: 3\n"
      "data:\n  train: {format: csv, path: blobs.csv, label: y}\n"
      "  validation: {split: 0.25}\n  normalize: standard\n"
      "model:\n  layers:\n    - {type: dense, units: 8, activation: relu}\n"
      "    - {type: dropout, rate: 0.2}\n    - {type: dense, units: 2, activation: softmax}\n"
      "optimizer: {type: adam, lr: 0.05}\n"
      "train:\n  epochs: 40\n  batch_size: 8\n"
      "  early_stopping: {monitor: val_loss, patience: 2, restore_best: true}\n"
      "cv: {folds: 3}\n";
  return config_from_tree(parse_yaml(text, file.string()), file);
}

void check_same_history(const RunResult& a, const RunResult& b) {
  REQUIRE(a.history.size() == b.history.size());
  for (std::size_t e = 0; e < a.history.size(); ++e) {
    CHECK(a.history[e].train == b.history[e].train);
    CHECK(a.history[e].validation == b.history[e].validation);
  }
  CHECK(a.epochs == b.epochs);
  CHECK(a.best_epoch == b.best_epoch);
  CHECK(a.status == b.status);
  CHECK(a.validation == b.validation);
}

}  // namespace

TEST_CASE("cross-validation: the held-out rows never reach a fold's normalisation or early stopping") {
  testing::TempDir dir;
  dir.write("blobs.csv", blobs_csv());
  const Config config = cv_config(dir);
  const CvData data = load_cv_data(config);
  REQUIRE(data.rows.size() == 60);  // the validation split went back into the pool
  CHECK(data.inner_split == doctest::Approx(0.25));
  const auto folds = make_folds(*data.dataset, data.rows, config.cv, config.seed);
  const Fold& fold = folds[1];
  const FoldResult base = run_fold(config, data, fold);
  CHECK(base.held_out_rows == 20);
  CHECK(base.train_rows + base.validation_rows == 40);
  CHECK(base.validation_rows == 10);
  CHECK(base.run.status == "early_stopped");  // so the test covers early-stopping decisions

  // The held-out rows' features made absurd: the fold trains exactly as before.
  auto corrupted = std::make_shared<Dataset>(*data.dataset);
  const Index features = corrupted->features_per_sample();
  for (const Index row : fold.held_out) {
    for (Index f = 0; f < features; ++f)
      corrupted->floats[static_cast<std::size_t>(row * features + f)] = 1.0e6f * static_cast<float>(f + 1);
  }
  CvData altered = data;
  altered.dataset = corrupted;
  const FoldResult again = run_fold(config, altered, fold);
  CHECK(again.transform.multiplier == base.transform.multiplier);
  CHECK(again.transform.offset == base.transform.offset);
  check_same_history(base.run, again.run);
  // ... and only its final evaluation sees the change.
  CHECK(metric_value(again.run.test, "loss") != metric_value(base.run.test, "loss"));

  // The check can fail: the same change to one of the fold's training rows moves the statistics.
  auto moved = std::make_shared<Dataset>(*data.dataset);
  moved->floats[static_cast<std::size_t>(fold.train.front() * features)] = 1.0e6f;
  altered.dataset = moved;
  const FoldResult leaked = run_fold(config, altered, fold);
  CHECK(leaked.transform.offset != base.transform.offset);
}

TEST_CASE("cross-validation: per-fold metrics, mean and std, identical for any number of jobs") {
  testing::TempDir dir;
  dir.write("blobs.csv", blobs_csv());
  Config config = cv_config(dir);
  config.train.early_stopping.reset();
  config.train.epochs = 3;
  const CvData data = load_cv_data(config);
  int reported = 0;
  CvOptions options;
  options.on_fold_end = [&](const FoldResult&) { ++reported; };
  const CvResult serial = cross_validate(config, data, options);
  CHECK(reported == 3);
  REQUIRE(serial.folds.size() == 3);
  CHECK(serial.status == "completed");
  double sum = 0.0;
  for (const FoldResult& fold : serial.folds) sum += metric_value(fold.run.test, "loss");
  CHECK(metric_value(serial.mean, "loss") == doctest::Approx(sum / 3.0));
  double squares = 0.0;
  for (const FoldResult& fold : serial.folds)
    squares += std::pow(metric_value(fold.run.test, "loss") - sum / 3.0, 2.0);
  CHECK(metric_value(serial.stddev, "loss") == doctest::Approx(std::sqrt(squares / 2.0)));
  CHECK(serial.fold_of_row.size() == 1);
  CHECK(serial.fold_of_row[0].size() == 60);
  // Folds differ in their seeds.
  CHECK(serial.folds[0].seed != serial.folds[1].seed);

  options.jobs = 2;
  const CvResult parallel = cross_validate(config, data, options);
  REQUIRE(parallel.folds.size() == 3);
  for (std::size_t f = 0; f < 3; ++f) {
    CHECK(parallel.folds[f].fold == static_cast<Index>(f));
    CHECK(parallel.folds[f].run.test == serial.folds[f].run.test);
    check_same_history(parallel.folds[f].run, serial.folds[f].run);
  }

  // With 4 threads, 2 jobs get 2 threads each (pools of their own) and still match one job.
  const int before = thread_count();
  set_thread_count(4);
  options.jobs = 1;
  const CvResult serial4 = cross_validate(config, data, options);
  options.jobs = 2;
  const CvResult parallel4 = cross_validate(config, data, options);
  set_thread_count(before);
  for (std::size_t f = 0; f < 3; ++f) {
    CHECK(parallel4.folds[f].run.test == serial4.folds[f].run.test);
    check_same_history(parallel4.folds[f].run, serial4.folds[f].run);
  }

  // Under MPI each fold goes to a rank and comes back as JSON, in any order: the same folds.
  const std::vector<Fold> folds = make_folds(*data.dataset, data.rows, config.cv, config.seed);
  testing::ShuffledFarm farm(2, [&](const nlohmann::json& task) {
    return fold_result_json(run_fold(config, data, folds.at(task.at("fold").get<std::size_t>())));
  });
  options.farm = &farm;
  const CvResult farmed = cross_validate(config, data, options);
  CHECK(farm.answered == 3);
  REQUIRE(farmed.folds.size() == 3);
  for (std::size_t f = 0; f < 3; ++f) {
    CHECK(farmed.folds[f].fold == static_cast<Index>(f));
    CHECK(farmed.folds[f].seed == serial.folds[f].seed);
    CHECK(farmed.folds[f].held_out_rows == serial.folds[f].held_out_rows);
    CHECK(farmed.folds[f].run.test == serial.folds[f].run.test);
    CHECK(farmed.folds[f].run.validation == serial.folds[f].run.validation);
    CHECK(farmed.folds[f].run.epochs == serial.folds[f].run.epochs);
  }
  CHECK(farmed.mean == serial.mean);
  CHECK(farmed.stddev == serial.stddev);
}
