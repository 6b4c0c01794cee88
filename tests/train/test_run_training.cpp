// run_training without files: nothing is written, and training continued in process
// (continue_from with a larger epochs) equals one uninterrupted run, as a scheduler that trains
// a trial further (successive halving) relies on.
#include <doctest/doctest.h>

#include <filesystem>

#include "config/parse_config.hpp"
#include "config/yaml_loader.hpp"
#include "support/temp_dir.hpp"
#include "train/run_training.hpp"

using namespace dlrun;

namespace {

std::unique_ptr<Experiment> prepare_run(const testing::TempDir& dir) {
  std::string csv = "a,b,y\n";
  for (int i = 0; i < 40; ++i) {
    csv += std::to_string((i % 7) * 0.3) + "," + std::to_string((i % 5) * 0.2) + "," + (i % 2 ? "p" : "q") +
           "\n";
  }
  dir.write("data.csv", csv);
  const auto file = dir / "run.yaml";
  const std::string text =
      "seed: 9\noutput: " + (dir / "runs").string() +
      "\ndata:\n  train: {format: csv, path: data.csv, label: y}\n  validation: {split: 0.25}\n"
      "model:\n  layers:\n    - {type: dense, units: 6, activation: relu}\n    - {type: dropout, rate: 0.3}\n"
      "    - {type: dense, units: 2, activation: softmax}\n"
      "optimizer: {type: adam, lr: 0.02}\ntrain: {epochs: 5, batch_size: 8}\n";
  return prepare_experiment(config_from_tree(parse_yaml(text, file.string()), file));
}

}  // namespace

TEST_CASE("run_training: without files nothing is written; continuing to more epochs equals one run") {
  testing::TempDir dir;
  auto whole = prepare_run(dir);
  RunOptions options;
  options.write_files = false;
  const RunResult once = run_training(*whole, options);
  CHECK(once.status == "completed");
  CHECK(once.epochs == 5);
  CHECK(once.run_dir.empty());
  CHECK_FALSE(std::filesystem::exists(dir / "runs"));
  CHECK(once.summary["command"] == "train");
  CHECK_FALSE(once.summary.contains("run_dir"));
  CHECK(once.validation == once.history.back().validation);

  auto parts = prepare_run(dir);
  options.epochs = 2;
  const RunResult first = run_training(*parts, options);
  CHECK(first.epochs == 2);
  options.epochs = 5;
  options.continue_from = first.state;
  const RunResult rest = run_training(*parts, options);
  REQUIRE(rest.history.size() == 5);
  for (std::size_t e = 0; e < 5; ++e) {
    CAPTURE(e);
    CHECK(rest.history[e].train == once.history[e].train);
    CHECK(rest.history[e].validation == once.history[e].validation);
  }
  CHECK(rest.state.global_step == once.state.global_step);
}
