// Golden end-to-end training (llm.c style): a config on a committed 64-row CSV, built with
// prepare_experiment, started from PyTorch's initial weights and trained 2 epochs with Adam on one
// thread, must reproduce the losses (per step and per epoch), accuracies and final weights that
// scripts/fixtures/golden.py computed with PyTorch. And training is deterministic: two runs of
// the same config (shuffling, dropout, a validation split) give identical numbers.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "config/parse_config.hpp"
#include "config/yaml_loader.hpp"
#include "core/threads.hpp"
#include "support/fixtures.hpp"
#include "support/gradient_check.hpp"
#include "train/checkpoint.hpp"
#include "train/experiment.hpp"
#include "train/trainer.hpp"

using namespace dlrun;

namespace {

// The config, as a file next to the CSV would say it (relative paths resolve against its folder).
std::unique_ptr<Experiment> prepare_golden(const std::string& text) {
  const std::filesystem::path file = testing::test_data_path("files/golden.yaml");
  return prepare_experiment(config_from_tree(parse_yaml(text, file.string()), file));
}

const std::string kGoldenConfig = R"(name: golden64
seed: 1
threads: 1
data:
  train: {format: csv, path: golden64.csv, label: label}
model:
  layers:
    - {type: dense, name: hidden, units: 8, activation: relu}
    - {type: dense, name: out, units: 3, activation: softmax}
loss: cross_entropy
metrics: [accuracy]
optimizer: {type: adam, lr: 0.01}
train: {epochs: 2, batch_size: 16, shuffle: false}
)";

// Collects each step's loss.
class StepLosses final : public Callback {
 public:
  void on_batch_end(const BatchReport& report, const TrainState& /*state*/) override {
    losses.push_back(report.loss);
  }
  std::vector<double> losses;
};

// Sets the thread count for one test and restores it after.
class ThreadCountGuard {
 public:
  explicit ThreadCountGuard(int threads) : previous_(thread_count()) { set_thread_count(threads); }
  ~ThreadCountGuard() { set_thread_count(previous_); }
  ThreadCountGuard(const ThreadCountGuard&) = delete;
  ThreadCountGuard& operator=(const ThreadCountGuard&) = delete;

 private:
  int previous_;
};

double relative_error(double actual, double expected) {
  return std::abs(actual - expected) / std::abs(expected);
}

struct GoldenRun {
  TrainState state;
  std::vector<double> step_losses;
  std::vector<std::vector<float>> parameters;
};

GoldenRun train(Experiment& e) {
  Trainer trainer(e.config, e.model, *e.optimizer, e.schedule.get(), *e.loss, e.data, e.task);
  StepLosses steps;
  trainer.add_callback(steps);
  GoldenRun result;
  result.state = trainer.fit(TrainState{});
  result.step_losses = steps.losses;
  for (const ParameterRef& ref : e.model.parameters()) {
    result.parameters.emplace_back(ref.parameter->value.values().begin(),
                                   ref.parameter->value.values().end());
  }
  return result;
}

}  // namespace

TEST_CASE("golden: 2 epochs of Adam on golden64.csv match PyTorch from the same initial weights") {
  const ThreadCountGuard threads(1);
  const nlohmann::json golden = testing::load_fixture("fixtures/golden/golden64.json");
  auto experiment = prepare_golden(kGoldenConfig);
  Experiment& e = *experiment;
  REQUIRE(e.data.train.size() == 64);
  CHECK(e.data.train.dataset->class_names == golden.at("class_names").get<std::vector<std::string>>());
  REQUIRE(e.steps_per_epoch == 4);

  load_model_parameters(
      e.model, read_checkpoint(testing::test_data_path("fixtures/golden/golden64_init.safetensors")));
  const GoldenRun run = train(e);

  // Every step's loss (before its update), then the epoch means of them.
  const auto step_losses = golden.at("step_losses").get<std::vector<double>>();
  REQUIRE(run.step_losses.size() == step_losses.size());
  for (std::size_t i = 0; i < step_losses.size(); ++i) {
    INFO("step " << i + 1 << ": dlrun " << run.step_losses[i] << ", torch " << step_losses[i]);
    CHECK(relative_error(run.step_losses[i], step_losses[i]) < 1e-5);
  }
  const auto& epochs = golden.at("epochs");
  REQUIRE(run.state.history.size() == epochs.size());
  for (std::size_t i = 0; i < epochs.size(); ++i) {
    const EpochReport& report = run.state.history[i];
    const double expected = epochs[i].at("loss").get<double>();
    INFO("epoch " << i + 1 << ": dlrun " << report.metric("loss") << ", torch " << expected);
    CHECK(report.epoch == static_cast<Index>(i + 1));
    CHECK(relative_error(report.metric("loss"), expected) < 1e-5);
    CHECK(report.metric("accuracy") == doctest::Approx(epochs[i].at("accuracy").get<double>()));
    CHECK(report.learning_rate == doctest::Approx(0.01));
  }
  // The loss falls: the fixture is not a model that never learns.
  CHECK(epochs[1].at("loss").get<double>() < epochs[0].at("loss").get<double>());

  // The weights after 8 steps.
  const auto& final_parameters = golden.at("final_parameters");
  const std::vector<std::string> names{"hidden.weight", "hidden.bias", "out.weight", "out.bias"};
  REQUIRE(run.parameters.size() == names.size());
  for (std::size_t p = 0; p < names.size(); ++p) {
    const Tensor expected = testing::tensor_from_json(final_parameters.at(names[p]));
    REQUIRE(static_cast<Index>(run.parameters[p].size()) == expected.size());
    CHECK(testing::max_relative_difference(run.parameters[p], expected.values()) < 1e-5);
  }
}

TEST_CASE("golden: training the same config twice gives identical losses and weights") {
  // Shuffling, dropout and the validation split all draw from the seed's streams.
  const std::string config = R"(seed: 5
data:
  train: {format: csv, path: golden64.csv, label: label}
  validation: {split: 0.25}
  normalize: standard
model:
  layers:
    - {type: dense, name: hidden, units: 16, activation: relu}
    - {type: dropout, rate: 0.3}
    - {type: dense, name: out, units: 3, activation: softmax}
loss: cross_entropy
metrics: [accuracy, f1]
optimizer: {type: adam, lr: 0.02}
train: {epochs: 3, batch_size: 8}
)";
  auto first_experiment = prepare_golden(config);
  auto second_experiment = prepare_golden(config);
  const GoldenRun first = train(*first_experiment);
  const GoldenRun second = train(*second_experiment);
  REQUIRE(first.state.history.size() == 3);
  REQUIRE(second.state.history.size() == 3);
  CHECK(first.step_losses == second.step_losses);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(first.state.history[i].train == second.state.history[i].train);
    CHECK(first.state.history[i].validation == second.state.history[i].validation);
    CHECK(first.state.history[i].validation.size() == 3);  // loss, accuracy, f1
  }
  CHECK(first.parameters == second.parameters);

  // A different seed trains differently (so the check above is not vacuous).
  auto other_experiment = prepare_golden("seed: 6\n" + config.substr(config.find('\n') + 1));
  const GoldenRun other = train(*other_experiment);
  CHECK(other.step_losses != first.step_losses);
}
