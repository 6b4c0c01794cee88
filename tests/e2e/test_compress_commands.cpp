// End-to-end: dlrun prune and dlrun quantize on a tiny CNN: loadable outputs that eval and predict
// run, and bad inputs that get one error line and the documented exit code.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>

#include "e2e/e2e_support.hpp"
#include "e2e/error_lines.hpp"

using namespace dlrun::testing;
namespace fs = std::filesystem;

namespace {

std::string big_endian(std::uint32_t value) {
  return {static_cast<char>(value >> 24), static_cast<char>(value >> 16), static_cast<char>(value >> 8),
          static_cast<char>(value)};
}

// 8x8 images of 3 classes (a bright row, column or diagonal, with noise) and their labels, as IDX.
std::string tiny_cnn_config(const TempDir& dir, const std::string& extra = "") {
  const std::uint32_t n = 90;
  std::string images = big_endian(0x803) + big_endian(n) + big_endian(8) + big_endian(8);
  std::string labels = big_endian(0x801) + big_endian(n);
  std::uint32_t noise = 12345;
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint32_t label = i % 3;
    for (int r = 0; r < 8; ++r) {
      for (int c = 0; c < 8; ++c) {
        noise = noise * 1103515245u + 12345u;
        const bool on = label == 0 ? r == 3 : label == 1 ? c == 4 : r == c;
        images += static_cast<char>((on ? 200 : 0) + (noise >> 27));
      }
    }
    labels += static_cast<char>(label);
  }
  const auto image_file = dir.write("images.idx", images);
  const auto label_file = dir.write("labels.idx", labels);
  return "name: tiny_cnn\nseed: 3\ndata:\n  train: {format: idx, images: " + image_file.string() +
         ", labels: " + label_file.string() + "}\n  test: {format: idx, images: " + image_file.string() +
         ", labels: " + label_file.string() +
         "}\n  scale: 255\nmodel:\n  layers:\n"
         "    - {type: conv2d, name: conv1, filters: 4, kernel: 3, activation: relu}\n"
         "    - {type: maxpool2d, pool: 2}\n    - {type: flatten}\n"
         "    - {type: dense, name: fc1, units: 16, activation: relu}\n"
         "    - {type: dense, name: out, units: 3, activation: softmax}\n"
         "optimizer: {type: adam, lr: 0.01}\ntrain: {epochs: 8, batch_size: 16}\n" +
         extra;
}

void check_one_error_line(const CommandResult& result, const std::string& expected_part) {
  CAPTURE(result.err);
  const auto errors = error_lines(result.err);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find(expected_part) != std::string::npos);
}

}  // namespace

TEST_CASE("e2e prune: a pruned, fine-tuned checkpoint with masks that eval runs and train resumes") {
  TempDir dir;
  const auto config = dir.write("c.yaml", tiny_cnn_config(dir));
  const auto trained = run_dlrun("train " + config.string() + " --quiet --out " + (dir / "run").string());
  REQUIRE(trained.exit_code == 0);
  const auto checkpoint = dir / "run" / "checkpoints" / "last.safetensors";

  const auto pruned = run_dlrun("prune " + config.string() + " --checkpoint " + checkpoint.string() +
                                " --sparsity 0.6 --finetune-epochs 1 --out " + (dir / "pruned").string());
  CAPTURE(pruned.err);
  REQUIRE(pruned.exit_code == 0);
  const auto summary = last_json_line(pruned.out);
  CHECK(summary["command"] == "prune");
  CHECK(summary["status"] == "completed");
  CHECK(summary["overall_sparsity"].get<double>() == doctest::Approx(0.6).epsilon(0.01));
  CHECK(summary["weights"].size() == 3);  // conv1, fc1, out
  for (const char* key : {"before", "pruned", "after"}) {
    CAPTURE(key);
    CHECK(summary[key].contains("accuracy"));
    CHECK(summary[key]["examples_per_second"].get<double>() > 0);
  }
  CHECK(summary["after"]["bytes"].get<double>() > 0);
  CHECK(pruned.err.find("fc1.weight") != std::string::npos);  // the sparsity table
  const auto model = dir / "pruned" / "pruned.safetensors";
  REQUIRE(fs::exists(model));
  CHECK(fs::exists(dir / "pruned" / "summary.json"));

  const auto eval = run_dlrun("eval " + config.string() + " --checkpoint " + model.string());
  REQUIRE(eval.exit_code == 0);
  CHECK(last_json_line(eval.out)["accuracy"].get<double>() ==
        doctest::Approx(summary["after"]["accuracy"].get<double>()));

  // --weights from the pruned model fine-tunes further with the masks restored: sparsity stays.
  const auto more =
      run_dlrun("prune " + config.string() + " --checkpoint " + model.string() +
                " --sparsity 0.0 --finetune-epochs 1 --quiet --out " + (dir / "again").string());
  REQUIRE(more.exit_code == 0);
  CHECK(last_json_line(more.out)["overall_sparsity"].get<double>() == doctest::Approx(0.6).epsilon(0.01));
}

TEST_CASE("e2e prune: bad inputs give one error line and the documented exit code") {
  TempDir dir;
  const auto config = dir.write("c.yaml", tiny_cnn_config(dir));
  const auto not_checkpoint = dir.write("weights.safetensors", "this is not a safetensors file at all");
  const auto bad_sparsity =
      run_dlrun("prune " + config.string() + " --checkpoint " + not_checkpoint.string() +
                " --sparsity 1.0 --out " + (dir / "p").string());
  CHECK(bad_sparsity.exit_code == 2);
  check_one_error_line(bad_sparsity, "--sparsity must be in [0, 1)");
  const auto negative = run_dlrun("prune " + config.string() + " --checkpoint " + not_checkpoint.string() +
                                  " --sparsity -0.1 --out " + (dir / "p").string());
  CHECK(negative.exit_code == 2);
  const auto bad_file = run_dlrun("prune " + config.string() + " --checkpoint " + not_checkpoint.string() +
                                  " --sparsity 0.5 --out " + (dir / "p").string());
  CHECK(bad_file.exit_code == 3);
  check_one_error_line(bad_file, "weights.safetensors");
  const auto missing = run_dlrun("prune " + config.string() + " --checkpoint " + (dir / "none").string() +
                                 " --sparsity 0.5 --out " + (dir / "p").string());
  CHECK(missing.exit_code == 3);
  CHECK_FALSE(fs::exists(dir / "p"));
}
