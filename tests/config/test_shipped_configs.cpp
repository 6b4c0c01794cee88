// Every config shipped under configs/ (and configs/optimizers/) loads, validates and builds: data,
// model, loss, optimizer and schedule; and its model runs a forward pass on two training examples.
// Configs on Fashion-MNIST are skipped, with a message, where the dataset is not installed.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <vector>

#include "config/parse_config.hpp"
#include "train/divergence.hpp"
#include "train/experiment.hpp"

using namespace dlrun;

namespace {

std::vector<std::filesystem::path> shipped_configs() {
  std::vector<std::filesystem::path> files;
  const std::filesystem::path root = std::filesystem::path(DLRUN_SOURCE_DIR) / "configs";
  for (const auto& folder : {root, root / "optimizers"}) {
    for (const auto& entry : std::filesystem::directory_iterator(folder)) {
      if (entry.is_regular_file() && entry.path().extension() == ".yaml") files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// A data file the config names that is not there: installed datasets may be absent; bundled ones
// (data/*.csv) must not be.
std::optional<std::filesystem::path> missing_installed_file(const Config& config) {
  std::vector<std::filesystem::path> files = config.data.train.files();
  if (config.data.test) {
    for (const auto& file : config.data.test->files()) files.push_back(file);
  }
  for (const auto& file : files) {
    if (!std::filesystem::exists(file) && file.string().starts_with("/usr/share/datasets/")) return file;
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("shipped configs: every configs/**.yaml loads and builds its experiment") {
  const auto files = shipped_configs();
  CHECK(files.size() >= 17);  // 8 examples and 9 optimizer comparisons when this test was written
  Index built = 0;
  for (const auto& file : files) {
    CAPTURE(file);
    const Config config = load_config(file, {});
    CHECK_FALSE(config.name.empty());
    if (const auto missing = missing_installed_file(config)) {
      MESSAGE("skipping " << file.filename().string() << ": " << missing->string() << " is not installed");
      continue;
    }
    const std::unique_ptr<Experiment> experiment = prepare_experiment(config);
    Experiment& e = *experiment;
    CHECK(e.model.size() > 0);
    CHECK(e.optimizer != nullptr);
    CHECK(e.loss != nullptr);
    CHECK(e.steps_per_epoch > 0);
    const bool has_schedule = e.schedule != nullptr;
    CHECK(has_schedule == config.schedule.has_value());
    CHECK(e.model.summary().size() == static_cast<std::size_t>(e.model.size()));

    // Two training examples through every layer.
    const std::vector<Index> rows(e.data.train.rows.begin(), e.data.train.rows.begin() + 2);
    Tensor inputs;
    gather_inputs(*e.data.train.dataset, rows, e.data.transform, inputs);
    const Tensor& output = e.model.forward(inputs, ForwardContext{});
    CHECK(output.shape() == e.model.output_shape().with_batch(2));
    CHECK(all_finite(output.values()));
    ++built;
  }
  MESSAGE("built " << built << " of " << files.size() << " shipped configs");
}
