// End-to-end: training interrupted by signals. SIGINT/SIGTERM finish the batch, write the last
// checkpoint and exit 130 with status "interrupted"; SIGKILL at random moments never leaves the
// run without a loadable checkpoint once one was written. Either way `--resume RUN_DIR` completes
// the run, and the final tensors are byte-identical to an uninterrupted run's.
#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include "e2e/background_run.hpp"
#include "e2e/checkpoint_compare.hpp"
#include "e2e/e2e_support.hpp"
#include "e2e/error_lines.hpp"
#include "io/checkpoint_files.hpp"
#include "io/files.hpp"
#include "io/safetensors.hpp"
#include "train/checkpoint.hpp"

using namespace dlrun::testing;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::size_t line_count(const fs::path& path) {
  std::ifstream in(path);
  std::size_t lines = 0;
  std::string line;
  while (std::getline(in, line)) ++lines;
  return lines;
}

int stale_temporaries(const fs::path& directory) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator(directory)) {
    if (entry.path().filename().string().find(".tmp-") != std::string::npos) ++count;
  }
  return count;
}

// Trains `config` uninterrupted into `run` (the reference) and returns the summary.
nlohmann::json reference_run(const fs::path& config, const fs::path& run) {
  const auto result = run_dlrun("train " + config.string() + " --quiet --threads 1 --out " + run.string());
  REQUIRE_MESSAGE(result.exit_code == 0, result.err);
  return last_json_line(result.out);
}

}  // namespace

TEST_CASE(
    "e2e interrupt: SIGINT or SIGTERM exits 130 with a checkpoint, and --resume matches an uninterrupted "
    "run") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 60);
  // 12 steps per epoch; a schedule and dropout make any slip in the resumed state visible.
  const auto config = dir.write("c.yaml", tiny_csv_config(csv,
                                                          "schedule: {type: step, step_size: 3, gamma: 0.7}\n"
                                                          "train: {epochs: 20, batch_size: 4}\n"));
  int signal = SIGINT;
  SUBCASE("SIGINT") {
    signal = SIGINT;
  }
  SUBCASE("SIGTERM") {
    signal = SIGTERM;
  }
  CAPTURE(signal);
  const fs::path run = dir / "run";
  {
    BackgroundRun training("train " + config.string() + " --quiet --threads 1 --out " + run.string(),
                           dir / "out", dir / "err");
    // Two finished epochs (header + 2 rows), so the signal lands in the middle of the run.
    REQUIRE(wait_until([&] { return line_count(run / "metrics.csv") >= 3; }, 20s));
    training.send(signal);
    const int code = training.wait();
    INFO(read_bytes(dir / "err"));
    CHECK(code == 130);
  }
  const auto summary = nlohmann::json::parse(read_bytes(run / "summary.json"));
  CHECK(summary["status"] == "interrupted");
  CHECK(last_json_line(read_bytes(dir / "out")) == summary);
  CHECK(error_lines(read_bytes(dir / "err")).empty());
  CHECK(read_bytes(dir / "err").find("--resume " + run.string()) != std::string::npos);
  const auto interrupted = dlrun::read_checkpoint(run / "checkpoints/last.safetensors");
  REQUIRE(interrupted.has_dlrun_state);
  CHECK(interrupted.state.train.epoch >= 2);
  CHECK(interrupted.state.train.epoch < 20);
  CHECK(interrupted.state.train.global_step ==
        interrupted.state.train.epoch * 12 + interrupted.state.train.step_in_epoch);
  CHECK_FALSE(dlrun::run_is_complete(run));

  const auto resumed =
      run_dlrun("train " + config.string() + " --resume " + run.string() + " --quiet --threads 1");
  REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.err);
  CHECK(last_json_line(resumed.out)["status"] == "completed");
  CHECK(last_json_line(resumed.out)["epochs"] == 20);

  const fs::path whole = dir / "whole";
  const auto reference = reference_run(config, whole);
  check_same_tensors(whole / "checkpoints/last.safetensors", run / "checkpoints/last.safetensors");
  CHECK(csv_rows_without_seconds(whole / "metrics.csv") == csv_rows_without_seconds(run / "metrics.csv"));
  CHECK(reference["train"] == last_json_line(resumed.out)["train"]);
}

TEST_CASE("e2e interrupt: SIGKILL at 10 random moments; the newest checkpoint loads and --resume completes") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 60);
  // 12 steps per epoch, 48 in all, a checkpoint (step-N and last, each fsynced) every 2 steps.
  const auto config = dir.write("c.yaml", tiny_csv_config(csv,
                                                          "train:\n  epochs: 4\n  batch_size: 4\n"
                                                          "  checkpoint: {every_steps: 2, keep: 2}\n"));
  const fs::path whole = dir / "whole";
  reference_run(config, whole);

  // A kill's moment is drawn as a point of progress, not of wall-clock time (which varies tenfold
  // with the machine's load): once the step checkpoint numbered `target` or later exists, a random
  // 0-4 ms more, so that the kill falls anywhere in the cycle of steps, writes and renames.
  std::mt19937 random(20240611);
  std::uniform_int_distribution<int> target_step(2, 46);
  std::uniform_int_distribution<int> jitter_us(0, 4000);
  int killed_mid_run = 0;
  for (int round = 0; round < 10; ++round) {
    const int target = target_step(random);
    const int jitter = jitter_us(random);
    CAPTURE(round);
    CAPTURE(target);
    CAPTURE(jitter);
    const fs::path run = dir / ("run" + std::to_string(round));
    {
      BackgroundRun training("train " + config.string() + " --quiet --threads 1 --out " + run.string(),
                             dir / "out", dir / "err");
      const bool reached = wait_until(
          [&] {
            if (!training.running()) return true;
            const auto numbered = dlrun::list_numbered_checkpoints(run / "checkpoints");
            return !numbered.empty() && numbered.back().kind == dlrun::CheckpointKind::step &&
                   numbered.back().number >= target;
          },
          60s);
      CHECK(reached);
      std::this_thread::sleep_for(std::chrono::microseconds(jitter));
      training.send(SIGKILL);
      training.wait();
    }
    if (dlrun::run_status(run)) continue;  // it finished within the jitter
    ++killed_mid_run;
    // Not only the newest: every checkpoint the kill left reads back whole, its checksum included
    // (newest_checkpoint would skip a bad one silently). Temporaries may be left; resume removes them.
    for (const auto& entry : fs::directory_iterator(run / "checkpoints")) {
      if (entry.path().extension() != ".safetensors") continue;
      CHECK_NOTHROW(dlrun::read_safetensors(entry.path()));
    }
    const auto newest = dlrun::newest_checkpoint(run);
    REQUIRE(newest.has_value());
    const auto loaded = dlrun::read_checkpoint(*newest);
    CHECK(loaded.has_dlrun_state);
    // step-N is written before last, so a kill between the two leaves last one checkpoint behind;
    // resuming from either reaches the same end.
    CHECK(loaded.state.train.global_step >= target - 2);
    const auto resumed =
        run_dlrun("train " + config.string() + " --resume " + run.string() + " --quiet --threads 1");
    REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.err);
    CHECK(last_json_line(resumed.out)["status"] == "completed");
    CHECK(dlrun::run_status(run) == "completed");
    check_same_tensors(whole / "checkpoints/last.safetensors", run / "checkpoints/last.safetensors");
    CHECK(csv_rows_without_seconds(whole / "metrics.csv") == csv_rows_without_seconds(run / "metrics.csv"));
    CHECK(stale_temporaries(run / "checkpoints") == 0);
    fs::remove_all(run);
  }
  CHECK(killed_mid_run >= 8);
}

TEST_CASE("e2e interrupt: SIGKILL before the first checkpoint leaves nothing to resume, said cleanly") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 60);
  const auto config = dir.write("c.yaml", tiny_csv_config(csv, "train: {epochs: 6, batch_size: 4}\n"));
  const fs::path run = dir / "run";
  {
    BackgroundRun training("train " + config.string() + " --quiet --threads 1 --out " + run.string(),
                           dir / "out", dir / "err");
    // The run directory exists before training starts; the first checkpoint comes at epoch 1's end.
    REQUIRE(wait_until([&] { return fs::exists(run / "checkpoints") || !training.running(); }, 60s));
    training.send(SIGKILL);
    training.wait();
  }
  if (fs::exists(run / "checkpoints/last.safetensors")) {
    MESSAGE("the kill came after the first checkpoint: nothing to check");
    return;
  }
  const auto resumed = run_dlrun("train " + config.string() + " --resume " + run.string() + " --quiet");
  CHECK(resumed.exit_code == 3);
  const auto errors = error_lines(resumed.err);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find("no readable checkpoint") != std::string::npos);
  CHECK_FALSE(fs::exists(run / "summary.json"));
}
