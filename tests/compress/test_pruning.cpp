// Magnitude pruning: exact sparsities per scope, the cubic schedule, and masks that hold through
// fine-tuning, checkpoints and a resumed run.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "compress/prune_schedule.hpp"
#include "compress/pruning.hpp"
#include "config/parse_config.hpp"
#include "config/yaml_loader.hpp"
#include "core/errors.hpp"
#include "model/model_test_support.hpp"
#include "support/temp_dir.hpp"
#include "train/checkpoint.hpp"
#include "train/run_training.hpp"

using namespace dlrun;

namespace {

// Zero weights that the mask prunes, and zeros in the mask, match exactly (pruned => zero).
void check_masked_weights_are_zero(const MaskSet& masks) {
  for (const MaskSet::Entry& entry : masks.entries()) {
    CAPTURE(entry.name);
    for (Index i = 0; i < entry.mask.size(); ++i) {
      if (entry.mask.data()[i] == 0.0f) REQUIRE(entry.parameter->value.data()[i] == 0.0f);
    }
  }
}

std::unique_ptr<Experiment> prepare_pruning(const testing::TempDir& dir, const std::string& extra = "") {
  std::string csv = "a,b,c,y\n";
  for (int i = 0; i < 48; ++i) {
    csv += std::to_string((i % 7) * 0.3) + "," + std::to_string((i % 5) * 0.2) + "," +
           std::to_string((i % 3) * 0.5) + "," + (i % 2 ? "p" : "q") + "\n";
  }
  dir.write("data.csv", csv);
  const auto file = dir / "run.yaml";
  const std::string text = "seed: 9\noutput: " + (dir / "runs").string() +
                           "\ndata:\n  train: {format: csv, path: data.csv, label: y}\n  test: {format: csv, "
                           "path: data.csv, label: y}\n"
                           "model:\n  layers:\n    - {type: dense, name: fc1, units: 12, activation: relu}\n"
                           "    - {type: dense, name: out, units: 2, activation: softmax}\n"
                           "optimizer: {type: adam, lr: 0.02}\ntrain: {epochs: 3, batch_size: 8}\n" +
                           extra;
  return prepare_experiment(config_from_tree(parse_yaml(text, file.string()), file));
}

}  // namespace

TEST_CASE("pruning: layer scope prunes every weight alike, global scope by one threshold") {
  Model model = testing::build_model(
      "    - {type: conv2d, name: c, filters: 4, kernel: 3}\n    - {type: flatten}\n"
      "    - {type: dense, name: fc, units: 5}\n",
      Shape{1, 6, 6});
  // The conv weights are 100x the dense ones: a global threshold prunes the dense layer first.
  for (Parameter& p : model.layer(0).layer->parameters()) {
    if (p.name == "weight") {
      for (float& w : p.value.values()) w *= 100.0f;
    }
  }
  SUBCASE("layer") {
    MaskSet masks(model);
    REQUIRE(masks.entries().size() == 2);  // conv and dense weights; no biases
    masks.prune_by_magnitude(0.5, PruneScope::layer);
    for (const WeightSparsity& s : masks.sparsity()) {
      CAPTURE(s.name);
      CHECK(s.pruned == std::llround(0.5 * static_cast<double>(s.size)));
    }
    check_masked_weights_are_zero(masks);
  }
  SUBCASE("global") {
    MaskSet masks(model);
    masks.prune_by_magnitude(0.5, PruneScope::global);
    const auto sparsity = masks.sparsity();
    const Index total = sparsity[0].size + sparsity[1].size;  // 36 + 320
    CHECK(sparsity[0].pruned + sparsity[1].pruned == std::llround(0.5 * static_cast<double>(total)));
    CHECK(sparsity[0].pruned == 0);  // every conv weight outweighs every dense weight
    // Every weight kept is at least as large as every weight pruned.
    float largest_pruned = 0.0f, smallest_kept = 1e30f;
    for (const MaskSet::Entry& entry : masks.entries()) {
      for (Index i = 0; i < entry.mask.size(); ++i) {
        const float w = std::fabs(entry.parameter->value.data()[i]);
        if (entry.mask.data()[i] == 0.0f) {
          largest_pruned = std::max(largest_pruned, std::fabs(w));
        } else {
          smallest_kept = std::min(smallest_kept, w);
        }
      }
    }
    CHECK(largest_pruned == 0.0f);  // pruned weights are zeroed
    // Pruning further keeps the zeros and reaches the new sparsity.
    masks.prune_by_magnitude(0.8, PruneScope::global);
    CHECK(masks.overall_sparsity() ==
          doctest::Approx(std::llround(0.8 * total) / static_cast<double>(total)));
    check_masked_weights_are_zero(masks);
  }
}

TEST_CASE("prune schedule: the cubic of Zhu & Gupta, pruning at start, every frequency, and the end") {
  PruneConfig config;
  config.initial_sparsity = 0.0;
  config.final_sparsity = 0.8;
  config.start_epoch = 1;
  config.end_epoch = 11;
  config.frequency = 2;
  config.frequency_unit = "epochs";
  const Index per_epoch = 10;
  CHECK(scheduled_sparsity(config, 0, per_epoch) == 0.0);
  CHECK(scheduled_sparsity(config, 10, per_epoch) == 0.0);
  CHECK(scheduled_sparsity(config, 60, per_epoch) == doctest::Approx(0.8 - 0.8 * 0.125));  // halfway: 0.7
  CHECK(scheduled_sparsity(config, 35, per_epoch) == doctest::Approx(0.8 - 0.8 * std::pow(0.75, 3)));
  CHECK(scheduled_sparsity(config, 110, per_epoch) == doctest::Approx(0.8));
  CHECK(scheduled_sparsity(config, 500, per_epoch) == doctest::Approx(0.8));
  std::vector<Index> steps;
  for (Index s = 0; s < 200; ++s) {
    if (is_pruning_step(config, s, per_epoch)) steps.push_back(s);
  }
  CHECK(steps == std::vector<Index>{10, 30, 50, 70, 90, 110});
  config.frequency = 30;
  config.frequency_unit = "steps";
  steps.clear();
  for (Index s = 0; s < 200; ++s) {
    if (is_pruning_step(config, s, per_epoch)) steps.push_back(s);
  }
  CHECK(steps == std::vector<Index>{10, 40, 70, 100, 110});  // the end, off the grid, too
}

TEST_CASE("prune config: keys and ranges are checked") {
  const auto parse = [](const std::string& prune) {
    const std::string text =
        "data:\n  train: {format: csv, path: x.csv}\nmodel:\n  layers:\n"
        "    - {type: dense, units: 2}\n" +
        prune;
    return config_from_tree(parse_yaml(text, "p.yaml"), "p.yaml");
  };
  const Config config =
      parse("prune: {final_sparsity: 0.9, end_epoch: 4, frequency: 50, frequency_unit: steps}\n");
  REQUIRE(config.prune.has_value());
  CHECK(config.prune->final_sparsity == 0.9);
  CHECK(config.prune->frequency == 50);
  CHECK(config.prune->scope == "global");
  CHECK_THROWS_WITH_AS(parse("prune: {final_sparsity: 0.9, end_epoch: 4, frequncy: 2}\n"),
                       doctest::Contains("frequncy"), ConfigError);
  CHECK_THROWS_WITH_AS(parse("prune: {final_sparsity: 1.0, end_epoch: 4}\n"),
                       doctest::Contains("final_sparsity"), ConfigError);
  CHECK_THROWS_WITH_AS(parse("prune: {final_sparsity: 0.5, initial_sparsity: 0.6, end_epoch: 4}\n"),
                       doctest::Contains("at least initial_sparsity"), ConfigError);
  CHECK_THROWS_WITH_AS(parse("prune: {final_sparsity: 0.5, start_epoch: 2, end_epoch: 2}\n"),
                       doctest::Contains("after start_epoch"), ConfigError);
  CHECK_THROWS_AS(parse("prune: {final_sparsity: 0.5, end_epoch: 2, scope: all}\n"), ConfigError);
}

TEST_CASE("pruning: masks hold through fine-tuning, are stored in checkpoints and restored on resume") {
  testing::TempDir dir;
  auto first = prepare_pruning(dir);
  MaskSet masks(first->model);
  masks.prune_by_magnitude(0.75, PruneScope::layer);
  RunOptions options;
  options.out = dir / "finetune";
  options.masks = &masks;
  options.epochs = 2;
  const RunResult run = run_training(*first, options);
  REQUIRE(run.status == "completed");
  check_masked_weights_are_zero(masks);
  CHECK(masks.overall_sparsity() == doctest::Approx(0.75).epsilon(0.02));

  // The epoch-1 checkpoint carries the masks as U8 tensors, and its pruned weights are zero.
  const auto epoch1 = run.run_dir / "checkpoints" / "epoch-0001.safetensors";
  const LoadedCheckpoint stored = read_checkpoint(epoch1);
  REQUIRE(MaskSet::present_in(stored.contents));
  const Tensor* mask = stored.contents.find("fc1.weight.mask");
  const Tensor* weight = stored.contents.find("fc1.weight");
  REQUIRE((mask && weight));
  for (Index i = 0; i < mask->size(); ++i) {
    if (mask->data()[i] == 0.0f) REQUIRE(weight->data()[i] == 0.0f);
  }
  CHECK(testing::read_bytes(epoch1).find("\"fc1.weight.mask\":{\"dtype\":\"U8\"") != std::string::npos);

  // Resuming from epoch 1 (no masks given) restores them: the resumed run keeps its zeros.
  auto second = prepare_pruning(dir);
  RunOptions resume;
  resume.resume = epoch1;
  resume.epochs = 3;
  const RunResult resumed = run_training(*second, resume);
  REQUIRE(resumed.status == "completed");
  MaskSet restored(second->model);
  restored.load(read_checkpoint(resumed.run_dir / "checkpoints" / "last.safetensors").contents, "last");
  for (std::size_t e = 0; e < restored.entries().size(); ++e) {
    CHECK(restored.entries()[e].mask.values().size() == masks.entries()[e].mask.values().size());
    CHECK(std::equal(restored.entries()[e].mask.values().begin(), restored.entries()[e].mask.values().end(),
                     masks.entries()[e].mask.values().begin()));
  }
  check_masked_weights_are_zero(restored);
}

TEST_CASE("pruning: a config's prune: section prunes gradually to the final sparsity") {
  testing::TempDir dir;
  auto e = prepare_pruning(dir,
                           "prune: {final_sparsity: 0.6, start_epoch: 0, end_epoch: 2, frequency: 2, "
                           "frequency_unit: steps, scope: layer}\n");
  RunOptions options;
  options.write_files = false;
  const RunResult run = run_training(*e, options);
  REQUIRE(run.status == "completed");
  MaskSet zeros(e->model);
  for (const WeightSparsity& s : zeros.sparsity()) CHECK(s.pruned == 0);  // a fresh set: all kept
  // Count the model's zero weights: the final sparsity per layer (layer scope).
  for (const MaskSet::Entry& entry : zeros.entries()) {
    const auto count =
        std::count(entry.parameter->value.values().begin(), entry.parameter->value.values().end(), 0.0f);
    CAPTURE(entry.name);
    CHECK(count == std::llround(0.6 * static_cast<double>(entry.parameter->value.size())));
  }
}

TEST_CASE("pruning: a mask that is missing or not 0/1 is a DataError") {
  Model model = testing::build_model("    - {type: dense, name: fc, units: 3}\n", Shape{4});
  MaskSet masks(model);
  SafetensorsContents contents;
  CHECK_THROWS_WITH_AS(masks.load(contents, "f.safetensors"),
                       doctest::Contains("lacks the mask 'fc.weight.mask'"), DataError);
  Tensor bad(Shape{3, 4}, 0.5f);
  contents.tensors.emplace_back("fc.weight.mask", bad);
  CHECK_THROWS_WITH_AS(masks.load(contents, "f.safetensors"), doctest::Contains("other than 0 and 1"),
                       DataError);
}
