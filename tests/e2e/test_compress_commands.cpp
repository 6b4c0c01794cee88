// End-to-end: dlrun prune and dlrun quantize on a tiny CNN: loadable outputs that eval and predict
// run, and bad inputs that get one error line and the documented exit code.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "e2e/e2e_support.hpp"
#include "e2e/error_lines.hpp"
#include "io/safetensors.hpp"

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

void check_one_error_among_lines(const CommandResult& result, const std::string& expected_part) {
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
  check_one_error_among_lines(bad_sparsity, "--sparsity must be in [0, 1)");
  const auto negative = run_dlrun("prune " + config.string() + " --checkpoint " + not_checkpoint.string() +
                                  " --sparsity -0.1 --out " + (dir / "p").string());
  CHECK(negative.exit_code == 2);
  const auto bad_file = run_dlrun("prune " + config.string() + " --checkpoint " + not_checkpoint.string() +
                                  " --sparsity 0.5 --out " + (dir / "p").string());
  CHECK(bad_file.exit_code == 3);
  check_one_error_among_lines(bad_file, "weights.safetensors");
  const auto missing = run_dlrun("prune " + config.string() + " --checkpoint " + (dir / "none").string() +
                                 " --sparsity 0.5 --out " + (dir / "p").string());
  CHECK(missing.exit_code == 3);
  CHECK_FALSE(fs::exists(dir / "p"));
}

TEST_CASE("e2e quantize: an int8 model that eval and predict run, close to the float one") {
  TempDir dir;
  const auto config = dir.write("c.yaml", tiny_cnn_config(dir));
  const auto trained = run_dlrun("train " + config.string() + " --quiet --out " + (dir / "run").string());
  REQUIRE(trained.exit_code == 0);
  const auto checkpoint = dir / "run" / "checkpoints" / "last.safetensors";

  const auto quantized = run_dlrun("quantize " + config.string() + " --checkpoint " + checkpoint.string() +
                                   " --calibration-batches 2");
  CAPTURE(quantized.err);
  REQUIRE(quantized.exit_code == 0);
  const auto summary = last_json_line(quantized.out);
  CHECK(summary["command"] == "quantize");
  const fs::path model = dir / "run" / "checkpoints" / "last.int8.safetensors";  // the default
  CHECK(summary["quantized_checkpoint"] == model.string());
  CHECK(summary["int8_layers"] == nlohmann::json({"conv1", "fc1", "out"}));
  CHECK(summary["calibration"]["examples"] == 32);
  for (const char* key : {"before", "after"}) {
    CAPTURE(key);
    CHECK(summary[key]["examples_per_second"].get<double>() > 0);
    CHECK(summary[key]["bytes"].get<double>() > 0);
  }
  // One byte per weight against four, and no optimizer state; in so small a model the header (the
  // config and the quantization metadata) weighs more than the weights.
  CHECK(summary["comparison"]["size_ratio"].get<double>() < 0.5);
  CHECK(summary["before"]["parameter_bytes"] == 4 * (4 * 9 + 4 + 36 * 16 + 16 + 16 * 3 + 3));
  const double float_accuracy = summary["before"]["accuracy"].get<double>();
  const double int8_accuracy = summary["after"]["accuracy"].get<double>();
  CHECK(std::fabs(int8_accuracy - float_accuracy) <= 2.0 / 90);  // at most two of the 90 examples

  const auto eval = run_dlrun("eval " + config.string() + " --checkpoint " + model.string());
  REQUIRE(eval.exit_code == 0);
  const auto evaluated = last_json_line(eval.out);
  CHECK(evaluated["int8"] == true);
  CHECK(evaluated["accuracy"].get<double>() == doctest::Approx(int8_accuracy));

  const auto images = dir / "images.idx";
  const auto predicted = run_dlrun("predict " + config.string() + " --checkpoint " + model.string() +
                                   " --input " + images.string() + " --format idx");
  REQUIRE(predicted.exit_code == 0);
  CHECK(std::count(predicted.out.begin(), predicted.out.end(), '\n') == 91);  // header + 90 rows

  // The int8 model is not a float checkpoint: training from it is refused, naming it.
  const auto weights = run_dlrun("train " + config.string() + " --weights " + model.string() + " --out " +
                                 (dir / "again").string());
  CHECK(weights.exit_code == 3);
  check_one_error_among_lines(weights, "int8 quantized model");
}

TEST_CASE("e2e quantize: malformed int8 models and bad flags give one error line and their exit code") {
  TempDir dir;
  const auto config = dir.write("c.yaml", tiny_cnn_config(dir));
  REQUIRE(
      run_dlrun("train " + config.string() + " --quiet --set train.epochs=1 --out " + (dir / "run").string())
          .exit_code == 0);
  const auto checkpoint = dir / "run" / "checkpoints" / "last.safetensors";
  const auto model = dir / "q.safetensors";
  REQUIRE(run_dlrun("quantize " + config.string() + " --quiet --checkpoint " + checkpoint.string() +
                    " --out " + model.string())
              .exit_code == 0);

  // fc1's input zero point out of range, and fc1's weight scale left out.
  dlrun::SafetensorsContents contents = dlrun::read_safetensors(model);
  std::vector<std::pair<std::string, const dlrun::Tensor*>> tensors, fewer;
  for (auto& [name, tensor] : contents.tensors) {
    if (name == "fc1.input_zero_point") tensor.data()[0] = 300.0f;
    tensors.emplace_back(name, &tensor);
    if (name != "fc1.weight_scale") fewer.emplace_back(name, &tensor);
  }
  const auto bad_zero = dir / "bad_zero.safetensors";
  const auto missing = dir / "missing.safetensors";
  dlrun::write_safetensors(bad_zero, tensors, contents.metadata);
  dlrun::write_safetensors(missing, fewer, contents.metadata);
  const auto zero = run_dlrun("eval " + config.string() + " --checkpoint " + bad_zero.string());
  CHECK(zero.exit_code == 3);
  check_one_error_among_lines(zero, "'fc1.input_zero_point' holds 300.0, not an integer in [0, 255]");
  const auto lacking = run_dlrun("predict " + config.string() + " --checkpoint " + missing.string() +
                                 " --input " + (dir / "images.idx").string() + " --format idx");
  CHECK(lacking.exit_code == 3);
  check_one_error_among_lines(lacking, "tensor 'fc1.weight_scale' is missing");

  const auto again = run_dlrun("quantize " + config.string() + " --checkpoint " + model.string());
  CHECK(again.exit_code == 3);
  check_one_error_among_lines(again, "int8 quantized model");
  const auto no_batches = run_dlrun("quantize " + config.string() + " --checkpoint " + checkpoint.string() +
                                    " --calibration-batches 0");
  CHECK(no_batches.exit_code == 2);
}
