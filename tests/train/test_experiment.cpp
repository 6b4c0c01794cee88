// prepare_experiment: the task, model, loss, optimizer and schedule a config describes, and the
// config errors it finds only once the data is known.
#include <doctest/doctest.h>

#include <string>

#include "config/config_test_util.hpp"
#include "config/parse_config.hpp"
#include "config/yaml_loader.hpp"
#include "support/temp_dir.hpp"
#include "train/experiment.hpp"

using namespace dlrun;
using dlrun::testing::config_error;

namespace {

// 10 rows of 3 numeric features and a numeric last column `y`.
std::string numeric_csv() {
  std::string text = "a,b,c,y\n";
  for (int i = 0; i < 10; ++i) {
    text += std::to_string(i * 0.1) + "," + std::to_string(1 - i * 0.05) + "," + std::to_string(i % 3 * 0.5) +
            "," + std::to_string(i % 2) + "\n";
  }
  return text;
}

std::unique_ptr<Experiment> prepare(const testing::TempDir& dir, const std::string& text) {
  const auto file = dir / "exp.yaml";
  return prepare_experiment(config_from_tree(parse_yaml(text, file.string()), file));
}

const std::string kExperimentData = "data:\n  train: {format: csv, path: data.csv, label: y}\n";

}  // namespace

TEST_CASE("experiment: classification from a CSV: classes, output check, steps per epoch, no schedule") {
  testing::TempDir dir;
  dir.write("data.csv", numeric_csv());
  auto e = prepare(dir, kExperimentData +
                            "model:\n  layers:\n    - {type: dense, units: 2, activation: softmax}\n"
                            "train: {batch_size: 4}\n");
  CHECK(e->task.classes == 2);
  CHECK_FALSE(e->task.autoencoder);
  CHECK(e->task.output_shape == Shape{2});
  CHECK(e->steps_per_epoch == 3);  // ceil(10 / 4)
  CHECK(e->schedule == nullptr);
  CHECK(e->optimizer->type() == "adam");
  CHECK(e->loss->type() == "cross_entropy");

  // The same data as a regression (mse): one output, the target column as values.
  auto regression =
      prepare(dir, kExperimentData + "model:\n  layers:\n    - {type: dense, units: 1}\nloss: mse\n");
  CHECK(regression->task.classes == 0);
  CHECK(regression->task.output_shape == Shape{1});
}

TEST_CASE("experiment: metrics must fit the task, outputs must fit the classes") {
  testing::TempDir dir;
  dir.write("data.csv", numeric_csv());
  const std::string model = "model:\n  layers:\n    - {type: dense, units: 2}\n";
  const std::string metric =
      config_error([&] { prepare(dir, kExperimentData + model + "metrics: [accuracy, mae]\n"); });
  CHECK(metric.find("exp.yaml:6:") != std::string::npos);
  CHECK(metric.find("metric 'mae' needs a regression loss") != std::string::npos);

  const std::string classes = config_error(
      [&] { prepare(dir, kExperimentData + "model:\n  layers:\n    - {type: dense, units: 3}\n"); });
  CHECK(classes.find("outputs 3 values but the data has 2 classes") != std::string::npos);
}

TEST_CASE("experiment: an autoencoder with cross_entropy is a config error at the loss") {
  testing::TempDir dir;
  dir.write("data.csv", numeric_csv());
  const std::string model = "model:\n  layers:\n    - {type: dense, units: 3, activation: sigmoid}\n";
  const std::string error = config_error([&] {
    prepare(dir, "data:\n  train: {format: csv, path: data.csv, label: y}\n  target: inputs\n" + model +
                     "loss: cross_entropy\nmetrics: [mae]\n");
  });
  CHECK(error.find("exp.yaml:7:7: loss 'cross_entropy' needs class labels") != std::string::npos);
  CHECK(error.find("autoencoder") != std::string::npos);

  // binary_cross_entropy takes value targets: a sigmoid autoencoder is fine.
  auto e = prepare(dir, "data:\n  train: {format: csv, path: data.csv, label: y}\n  target: inputs\n" +
                            model + "loss: binary_cross_entropy\nmetrics: [mae]\n");
  CHECK(e->task.autoencoder);
  CHECK(e->task.classes == 0);
}

TEST_CASE("experiment: is_classification_loss") {
  CHECK(is_classification_loss("cross_entropy"));
  CHECK(is_classification_loss("binary_cross_entropy"));
  CHECK_FALSE(is_classification_loss("mse"));
  CHECK_FALSE(is_classification_loss("mae"));
  CHECK_FALSE(is_classification_loss("huber"));
}
