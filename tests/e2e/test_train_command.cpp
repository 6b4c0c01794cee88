// End-to-end: `dlrun train` on tiny data — exit codes, the stdout JSON, the run directory, and
// that the same config, seed and threads give the same metrics.
#include <doctest/doctest.h>

#include <filesystem>

#include "e2e/e2e_support.hpp"

using namespace dlrun::testing;
namespace fs = std::filesystem;

TEST_CASE("e2e train: xor_mlp solves XOR and writes a complete run directory") {
  TempDir dir;
  const auto result = run_dlrun("train " + source_path("configs/xor_mlp.yaml").string() + " --quiet --out " +
                                (dir / "run").string());
  REQUIRE_MESSAGE(result.exit_code == 0, result.err);
  const auto summary = last_json_line(result.out);
  CHECK(summary["command"] == "train");
  CHECK(summary["status"] == "completed");
  CHECK(summary["epochs"] == 300);
  CHECK(summary["train"]["accuracy"].get<double>() == 1.0);
  const fs::path run = dir / "run";
  for (const char* file : {"config.yaml", "metrics.csv", "summary.json", "log.txt",
                           "checkpoints/last.safetensors", "checkpoints/best.safetensors"}) {
    CHECK_MESSAGE(fs::exists(run / file), file);
  }
  CHECK(csv_rows_without_seconds(run / "metrics.csv").size() == 301);
  CHECK(read_bytes(run / "metrics.csv").starts_with("epoch,loss,accuracy,lr,seconds\n"));
  CHECK(nlohmann::json::parse(read_bytes(run / "summary.json")) == summary);
}

TEST_CASE("e2e train: seed_fnn, the single linear unit, converges to MSE 0.25 on XOR") {
  TempDir dir;
  // Without the per-epoch checkpoints of the shipped config: 1000 epochs of 4 rows otherwise spend
  // most of their time in 3000 fsyncs, and the loss is the same to every digit.
  const auto result = run_dlrun("train " + source_path("configs/seed_fnn.yaml").string() + " --quiet --out " +
                                (dir / "run").string() +
                                " --set train.checkpoint.every=0 --set train.checkpoint.save_best=false");
  REQUIRE_MESSAGE(result.exit_code == 0, result.err);
  const auto summary = last_json_line(result.out);
  CHECK(summary["epochs"] == 1000);
  // The least-squares optimum of a linear unit on XOR predicts 0.5 everywhere: loss 0.25.
  CHECK(summary["train"]["loss"].get<double>() == doctest::Approx(0.25).epsilon(0.02));
}

TEST_CASE("e2e train: iris reaches at least 93% validation accuracy") {
  TempDir dir;
  const auto result = run_dlrun("train " + source_path("configs/iris.yaml").string() + " --quiet --out " +
                                (dir / "run").string());
  REQUIRE_MESSAGE(result.exit_code == 0, result.err);
  const auto summary = last_json_line(result.out);
  CHECK(summary["validation"]["accuracy"].get<double>() >= 0.93);
}

TEST_CASE("e2e train: same config, seed and threads give identical metrics twice") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 90);
  const auto config = dir.write("c.yaml", tiny_csv_config(csv, "train: {epochs: 4, batch_size: 8}\n"));
  for (const char* threads : {"1", "2"}) {
    CAPTURE(threads);
    const std::string flags = std::string(" --quiet --threads ") + threads + " --out ";
    const auto first =
        run_dlrun("train " + config.string() + flags + (dir / ("a" + std::string(threads))).string());
    const auto second =
        run_dlrun("train " + config.string() + flags + (dir / ("b" + std::string(threads))).string());
    REQUIRE_MESSAGE(first.exit_code == 0, first.err);
    REQUIRE_MESSAGE(second.exit_code == 0, second.err);
    CHECK(csv_rows_without_seconds(dir / ("a" + std::string(threads)) / "metrics.csv") ==
          csv_rows_without_seconds(dir / ("b" + std::string(threads)) / "metrics.csv"));
  }
}

TEST_CASE("e2e train: --jsonl prints one line per epoch, --set overrides, check and summary") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 60);
  const auto config = dir.write("c.yaml", tiny_csv_config(csv, "train: {epochs: 2, batch_size: 8}\n"));
  const auto result = run_dlrun("train " + config.string() + " --quiet --jsonl --set train.epochs=3 --set " +
                                "model.layers.hidden.units=5 --out " + (dir / "run").string());
  REQUIRE_MESSAGE(result.exit_code == 0, result.err);
  int epoch_lines = 0;
  for (std::size_t at = result.out.find("{\"epoch\""); at != std::string::npos;
       at = result.out.find("{\"epoch\"", at + 1)) {
    ++epoch_lines;
  }
  CHECK(epoch_lines == 3);
  const std::string resolved = read_bytes(dir / "run" / "config.yaml");
  CHECK(resolved.find("units: 5") != std::string::npos);

  const auto check = run_dlrun("check " + config.string() + " --set train.batch_size=4");
  CHECK(check.exit_code == 0);
  CHECK(check.out.find("batch_size: 4") != std::string::npos);
  const auto summary = run_dlrun("summary " + config.string());
  CHECK(summary.exit_code == 0);
  CHECK(summary.out.find("hidden") != std::string::npos);
  CHECK(summary.out.find("Total params: 67") != std::string::npos);  // 4*8+8 + 8*3+3
}
