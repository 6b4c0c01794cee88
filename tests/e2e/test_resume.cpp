// End-to-end: `dlrun train --resume` continues a run exactly. Training N epochs in one go and in
// two parts (stopping after 3 epochs, or resuming from a mid-epoch step checkpoint) gives
// byte-identical tensors (parameters, optimizer state, early-stopping snapshot) and the same
// metrics.csv rows; schedules, early stopping and the checkpointer carry their state over.
// Also: a run that diverges after a resume keeps its last good checkpoint (exit 4).
#include <doctest/doctest.h>

#include <filesystem>

#include "e2e/checkpoint_compare.hpp"
#include "e2e/e2e_support.hpp"
#include "e2e/error_lines.hpp"
#include "train/checkpoint.hpp"

using namespace dlrun::testing;
namespace fs = std::filesystem;

namespace {

const std::string kFlags = " --quiet --threads 1 --out ";

struct TwoRuns {
  fs::path whole;    // trained in one go
  fs::path resumed;  // trained for `first_epochs`, then resumed
  nlohmann::json whole_summary;
  nlohmann::json resumed_summary;
};

// Trains `config` for `epochs` in one go, and for `first_epochs` then `--resume RUN_DIR` with
// `--set train.epochs=<epochs>`.
TwoRuns train_whole_and_in_two_parts(const TempDir& dir, const fs::path& config, int first_epochs,
                                     int epochs) {
  TwoRuns runs{dir / "whole", dir / "resumed", {}, {}};
  const std::string total = " --set train.epochs=" + std::to_string(epochs);
  const auto whole = run_dlrun("train " + config.string() + total + kFlags + runs.whole.string());
  REQUIRE_MESSAGE(whole.exit_code == 0, whole.err);
  const auto first =
      run_dlrun("train " + config.string() + " --set train.epochs=" + std::to_string(first_epochs) + kFlags +
                runs.resumed.string());
  REQUIRE_MESSAGE(first.exit_code == 0, first.err);
  const auto second = run_dlrun("train " + config.string() + total + " --resume " + runs.resumed.string() +
                                " --quiet --threads 1");
  REQUIRE_MESSAGE(second.exit_code == 0, second.err);
  runs.whole_summary = last_json_line(whole.out);
  runs.resumed_summary = last_json_line(second.out);
  return runs;
}

void check_same_run(const TwoRuns& runs) {
  check_same_tensors(runs.whole / "checkpoints/last.safetensors",
                     runs.resumed / "checkpoints/last.safetensors");
  check_same_tensors(runs.whole / "checkpoints/best.safetensors",
                     runs.resumed / "checkpoints/best.safetensors");
  const auto whole_rows = csv_rows_without_seconds(runs.whole / "metrics.csv");
  CHECK(whole_rows.size() > 2);
  CHECK(whole_rows == csv_rows_without_seconds(runs.resumed / "metrics.csv"));
  for (const char* key : {"status", "epochs", "best_epoch", "train", "validation"}) {
    CHECK_MESSAGE(runs.whole_summary[key] == runs.resumed_summary[key], key);
  }
  CHECK(dlrun::read_checkpoint(runs.resumed / "checkpoints/last.safetensors").state.train.history.size() ==
        whole_rows.size() - 1);
}

}  // namespace

TEST_CASE("e2e resume: 3 epochs then --resume to 6 equals 6 epochs in one go") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 60);
  std::string schedule;
  SUBCASE("step schedule") {
    schedule = "schedule: {type: step, step_size: 2, gamma: 0.5}\n";
  }
  SUBCASE("cosine schedule with explicit T_max") {
    schedule = "schedule: {type: cosine, T_max: 6, eta_min: 0.001}\n";
  }
  SUBCASE("reduce_on_plateau (its best value and counters carry over)") {
    schedule =
        "schedule: {type: reduce_on_plateau, monitor: val_loss, patience: 0, factor: 0.5, threshold: 0.15}\n";
  }
  CAPTURE(schedule);
  const auto config =
      dir.write("c.yaml", tiny_csv_config(csv, schedule + "train: {epochs: 6, batch_size: 8}\n"));
  const TwoRuns runs = train_whole_and_in_two_parts(dir, config, 3, 6);
  CHECK(runs.resumed_summary["status"] == "completed");
  CHECK(runs.resumed_summary["epochs"] == 6);
  check_same_run(runs);
}

TEST_CASE("e2e resume: early stopping state carries over, and the summary says early_stopped") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 60);
  // min_delta 10 makes only the first epoch an improvement, so the run stops after epoch 1 + 4.
  // A resume after epoch 3 that forgot the wait count (2) would run to epoch 6 instead.
  const auto config =
      dir.write("c.yaml", tiny_csv_config(csv,
                                          "train:\n  epochs: 6\n  batch_size: 8\n"
                                          "  early_stopping: {monitor: val_loss, patience: 4, min_delta: 10, "
                                          "restore_best: true}\n"));
  const TwoRuns runs = train_whole_and_in_two_parts(dir, config, 3, 6);
  for (const auto* summary : {&runs.whole_summary, &runs.resumed_summary}) {
    CHECK((*summary)["status"] == "early_stopped");
    CHECK((*summary)["epochs"] == 5);
    CHECK((*summary)["best_epoch"] == 1);
    const std::string reason = (*summary)["stop_reason"].get<std::string>();
    CHECK(reason.find("val_loss did not improve for 4 epoch(s)") != std::string::npos);
    CHECK(reason.find("at epoch 1") != std::string::npos);
  }
  const auto tensors = tensor_bytes(runs.resumed / "checkpoints/last.safetensors");
  CHECK(tensors.contains("early_stopping.best.hidden.weight"));
  check_same_run(runs);
}

TEST_CASE("e2e resume: from a mid-epoch step checkpoint reaches the same final parameters") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 60);  // 45 training rows, batch 8: 6 steps per epoch
  const auto config = dir.write("c.yaml", tiny_csv_config(csv,
                                                          "schedule: {type: cosine, T_max: 4}\n"
                                                          "train:\n  epochs: 4\n  batch_size: 8\n"
                                                          "  checkpoint: {every_steps: 4, keep: 10}\n"));
  const fs::path whole = dir / "whole";
  const auto first = run_dlrun("train " + config.string() + kFlags + whole.string());
  REQUIRE_MESSAGE(first.exit_code == 0, first.err);
  // Steps 4, 8, 16, 20 are mid-epoch; 12 and 24 end an epoch and are covered by epoch checkpoints.
  for (const char* name : {"step-00000004", "step-00000008", "step-00000016", "step-00000020"}) {
    CHECK_MESSAGE(fs::exists(whole / "checkpoints" / (std::string(name) + ".safetensors")), name);
  }
  CHECK_FALSE(fs::exists(whole / "checkpoints/step-00000012.safetensors"));

  // Epoch 3, step 4 of 6: the resumed run replays the rest of epoch 3 with its data order.
  const fs::path copy = dir / "copy";
  fs::copy(whole, copy, fs::copy_options::recursive);
  fs::remove(copy / "summary.json");
  const fs::path step = copy / "checkpoints/step-00000016.safetensors";
  const auto state = dlrun::read_checkpoint(step).state;
  CHECK(state.train.epoch == 2);
  CHECK(state.train.step_in_epoch == 4);
  CHECK(state.train.global_step == 16);

  const auto resumed =
      run_dlrun("train " + config.string() + " --resume " + step.string() + " --quiet --threads 1");
  REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.err);
  CHECK(last_json_line(resumed.out)["status"] == "completed");
  check_same_tensors(whole / "checkpoints/last.safetensors", copy / "checkpoints/last.safetensors");
  check_same_tensors(whole / "checkpoints/step-00000020.safetensors",
                     copy / "checkpoints/step-00000020.safetensors");
  CHECK(csv_rows_without_seconds(whole / "metrics.csv") == csv_rows_without_seconds(copy / "metrics.csv"));
}

TEST_CASE("e2e resume: divergence after a resume exits 4 and keeps the last good checkpoint") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 60);
  const auto config = dir.write("c.yaml", tiny_csv_config(csv, "train: {epochs: 2, batch_size: 8}\n"));
  const fs::path run = dir / "run";
  const auto first = run_dlrun("train " + config.string() + kFlags + run.string());
  REQUIRE_MESSAGE(first.exit_code == 0, first.err);
  const fs::path last = run / "checkpoints/last.safetensors";
  const auto good = tensor_bytes(last);

  // Adam moves each weight by about lr per step: 1e30 overflows the next step's outputs.
  const auto diverged = run_dlrun("train " + config.string() + " --resume " + run.string() +
                                  " --set optimizer.lr=1e30 --set train.epochs=4 --quiet --threads 1");
  CHECK(diverged.exit_code == 4);
  INFO(diverged.err);
  // One error line, naming where (epoch 3) and what (a layer or a parameter).
  const auto errors = error_lines(diverged.err);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find("diverged") != std::string::npos);
  CHECK(errors[0].find("epoch 3") != std::string::npos);
  CHECK(
      (errors[0].find("layer '") != std::string::npos || errors[0].find("parameter ") != std::string::npos));

  const auto checkpoint = dlrun::read_checkpoint(last);
  CHECK(checkpoint.state.train.epoch == 2);
  CHECK(checkpoint.contents.metadata.at("epoch") == "2");
  CHECK(tensor_bytes(last) == good);
  const auto summary = nlohmann::json::parse(read_bytes(run / "summary.json"));
  CHECK(summary["status"] == "diverged");
  CHECK(last_json_line(diverged.out)["status"] == "diverged");
}
