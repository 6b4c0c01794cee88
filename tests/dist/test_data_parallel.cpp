// End-to-end: `mpirun -np 2 dlrun train` (synchronous data parallelism, docs/scaling.md) against
// one process with the same global batch, and resuming under mpirun. Skipped (with a SKIPPED line
// that ctest reports) when dlrun is built without MPI.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "dist/mpi_run.hpp"
#include "e2e/checkpoint_compare.hpp"
#include "e2e/e2e_support.hpp"
#include "io/safetensors.hpp"

using namespace dlrun::testing;
namespace fs = std::filesystem;

namespace {

// A small MLP without dropout (each rank draws its own masks); 61 rows leave 46 for training, so a
// batch of 5 ends with a batch of one: one rank computes it, the other has no rows.
std::string data_parallel_config(const fs::path& csv, const std::string& extra) {
  return "seed: 11\n" + tiny_csv_data(csv) +
         "model:\n"
         "  layers:\n"
         "    - {type: dense, name: hidden, units: 8, activation: relu, l2: 0.001}\n"
         "    - {type: dense, name: out, units: 3, activation: softmax}\n"
         "loss: cross_entropy\n"
         "metrics: [accuracy, f1]\n" +
         extra;
}

// Every tensor of two checkpoints (parameters and optimizer state) agrees within `tolerance`.
void check_close_tensors(const fs::path& expected, const fs::path& actual, double tolerance) {
  const auto a = dlrun::read_safetensors(expected).tensors;
  const auto b = dlrun::read_safetensors(actual).tensors;
  REQUIRE(a.size() == b.size());
  for (std::size_t t = 0; t < a.size(); ++t) {
    CAPTURE(a[t].first);
    REQUIRE(a[t].first == b[t].first);
    const auto x = a[t].second.values();
    const auto y = b[t].second.values();
    REQUIRE(x.size() == y.size());
    double worst = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(double(x[i]) - double(y[i])));
    CHECK(worst <= tolerance);
  }
}

void check_close_metrics(const nlohmann::json& expected, const nlohmann::json& actual) {
  for (const auto& [name, value] : expected.items()) {
    CAPTURE(name);
    REQUIRE(actual.contains(name));
    CHECK(actual[name].get<double>() == doctest::Approx(value.get<double>()).epsilon(1e-5));
  }
}

}  // namespace

TEST_CASE("dist: an epoch of data-parallel training over 2 ranks matches one process to 1e-5") {
  if (!mpirun_available()) {
    std::printf("SKIPPED: dlrun is built without MPI\n");
    return;
  }
  for (const std::string optimizer : {"{type: sgd, lr: 0.1, momentum: 0.9}", "{type: adam, lr: 0.01}"}) {
    CAPTURE(optimizer);
    TempDir dir;
    const auto csv = write_blobs_csv(dir, 61);
    const auto config = dir.write(
        "c.yaml",
        data_parallel_config(
            csv, "optimizer: " + optimizer + "\ntrain: {epochs: 1, batch_size: 5, clip_grad_norm: 1.0}\n"));
    const auto alone = run_dlrun("train " + config.string() + " --threads 1 --out " + (dir / "one").string());
    REQUIRE_MESSAGE(alone.exit_code == 0, alone.err);
    REQUIRE_MESSAGE(alone.err.find("46 training examples") != std::string::npos, alone.err);
    const auto ranks =
        run_dlrun_mpi(2, "train " + config.string() + " --threads 1 --out " + (dir / "two").string());
    REQUIRE_MESSAGE(ranks.exit_code == 0, ranks.err);

    check_close_tensors(dir / "one/checkpoints/last.safetensors", dir / "two/checkpoints/last.safetensors",
                        1e-5);
    // Losses and metrics are summed over ranks: the same numbers as one process reports.
    const auto one = last_json_line(alone.out);
    const auto two = last_json_line(ranks.out);
    check_close_metrics(one["train"], two["train"]);
    check_close_metrics(one["validation"], two["validation"]);
    // Rank 0 alone prints and writes: one summary line, one run directory's files.
    CHECK(ranks.out.find("\"command\"") == ranks.out.rfind("\"command\""));
    CHECK(ranks.err.find("epoch 1:") == ranks.err.rfind("epoch 1:"));
    CHECK(fs::exists(dir / "two/summary.json"));
    CHECK(fs::exists(dir / "two/log.txt"));
  }
}

TEST_CASE("dist: a run resumed under mpirun from a mid-epoch checkpoint ends as the uninterrupted one") {
  if (!mpirun_available()) {
    std::printf("SKIPPED: dlrun is built without MPI\n");
    return;
  }
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 61);
  // 10 steps per epoch; checkpoints every 4 steps, so step 12 lies inside epoch 2.
  const auto config = dir.write(
      "c.yaml", data_parallel_config(csv,
                                     "optimizer: {type: adam, lr: 0.01}\n"
                                     "schedule: {type: step, step_size: 1, gamma: 0.5}\n"
                                     "train: {epochs: 2, batch_size: 5, checkpoint: {every_steps: 4, "
                                     "keep: 100}}\n"));
  const auto full =
      run_dlrun_mpi(2, "train " + config.string() + " --threads 1 --out " + (dir / "full").string());
  REQUIRE_MESSAGE(full.exit_code == 0, full.err);
  // The same run again, resumed from its step-12 checkpoint (the metrics of epoch 2's first two
  // batches come from the checkpoint).
  fs::copy(dir / "full", dir / "resumed", fs::copy_options::recursive);
  fs::remove(dir / "resumed/checkpoints/last.safetensors");
  const auto resumed = run_dlrun_mpi(2, "train " + config.string() + " --threads 1 --resume " +
                                            (dir / "resumed/checkpoints/step-00000012.safetensors").string());
  REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.err);
  CHECK(resumed.err.find("resuming") != std::string::npos);
  check_same_tensors(dir / "full/checkpoints/last.safetensors", dir / "resumed/checkpoints/last.safetensors");
  const auto a = last_json_line(full.out);
  const auto b = last_json_line(resumed.out);
  CHECK(a["train"] == b["train"]);
  CHECK(a["validation"] == b["validation"]);
}
