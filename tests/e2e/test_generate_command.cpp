// End-to-end: train a tiny character model for one epoch on a tiny text, then `dlrun generate`
// from its checkpoint; the vocabulary travels in the checkpoint; bad prompts, options and
// checkpoints exit with their documented codes.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "e2e/e2e_support.hpp"
#include "e2e/error_lines.hpp"

using namespace dlrun::testing;
namespace fs = std::filesystem;

namespace {

const std::string kSentence = "the quick cat sat on a mat. ";  // 15 distinct characters

// About 600 characters: `sentence` repeated.
std::string tiny_text(const std::string& sentence = kSentence) {
  std::string text;
  while (text.size() < 600) text += sentence;
  return text;
}

std::string char_config(const fs::path& text,
                        const std::string& train = "train: {epochs: 1, batch_size: 4}\n") {
  return "seed: 3\n"
         "data:\n"
         "  train: {format: text, path: " +
         text.string() +
         ", sequence_length: 16}\n"
         "  validation: {split: 0.2}\n"
         "model:\n"
         "  layers:\n"
         "    - {type: embedding, vocab: 15, dim: 16}\n"
         "    - {type: positional_embedding, max_length: 16}\n"
         "    - {type: transformer_block, heads: 2, ff: 32, dropout: 0.0, causal: true}\n"
         "    - {type: dense, units: 15, activation: softmax}\n"
         "loss: cross_entropy\n"
         "metrics: [accuracy]\n"
         "optimizer: {type: adam, lr: 0.01}\n" +
         train;
}

}  // namespace

TEST_CASE("e2e generate: a one-epoch char model generates reproducibly from its checkpoint") {
  TempDir dir;
  const auto text = dir.write("tiny.txt", tiny_text());
  const auto config = dir.write("c.yaml", char_config(text));
  const auto trained = run_dlrun("train " + config.string() + " --threads 1 --out " + (dir / "run").string());
  REQUIRE_MESSAGE(trained.exit_code == 0, trained.err);
  CHECK(trained.err.find("text: vocabulary of 15 characters; unigram baseline") != std::string::npos);
  const auto summary = last_json_line(trained.out);
  const auto& bits = summary["bits_per_char"];
  CHECK(bits["unigram_baseline"].get<double>() > 3.0);
  CHECK(bits["unigram_baseline"].get<double>() < std::log2(15.0));
  CHECK(bits["validation"].get<double>() ==
        doctest::Approx(summary["validation"]["loss"].get<double>() / std::log(2.0)));
  const fs::path checkpoint = dir / "run/checkpoints/last.safetensors";

  const std::string generate = "generate " + config.string() + " --checkpoint " + checkpoint.string() +
                               " --prompt 'the c' --length 40 --temperature 0.7 --seed 11 --quiet";
  const auto first = run_dlrun(generate);
  REQUIRE_MESSAGE(first.exit_code == 0, first.err);
  CHECK(first.out.size() == 5 + 40 + 1);  // the prompt, 40 characters, a line end
  CHECK(first.out.starts_with("the c"));
  for (const char c : first.out.substr(0, 45)) CHECK(kSentence.find(c) != std::string::npos);
  CHECK(run_dlrun(generate).out == first.out);  // the same seed, the same text

  // Greedy (top-k 1) decoding does not depend on the seed or the temperature.
  const std::string greedy = "generate " + config.string() + " --checkpoint " + checkpoint.string() +
                             " --prompt 'the c' --length 30 --top-k 1 --quiet";
  const auto greedy_a = run_dlrun(greedy + " --seed 1 --temperature 0.5");
  const auto greedy_b = run_dlrun(greedy + " --seed 2 --temperature 2");
  REQUIRE_MESSAGE(greedy_a.exit_code == 0, greedy_a.err);
  CHECK(greedy_a.out == greedy_b.out);

  // Another training text (another vocabulary) in the config: the checkpoint's mapping would not
  // hold, so eval refuses it.
  const auto other = dir.write("other.txt", tiny_text("the zuick cat sat on a mat. "));  // z for q
  const auto other_config = dir.write("o.yaml", char_config(other));
  const auto refused = run_dlrun("eval " + other_config.string() + " --checkpoint " + checkpoint.string() +
                                 " --split validation");
  CHECK(refused.exit_code == 3);
  CHECK(refused.err.find("differs from the one of the config's training text") != std::string::npos);

  const auto evaluated =
      run_dlrun("eval " + config.string() + " --checkpoint " + checkpoint.string() + " --split validation");
  REQUIRE_MESSAGE(evaluated.exit_code == 0, evaluated.err);
  const auto eval_summary = last_json_line(evaluated.out);
  CHECK(eval_summary["bits_per_char"].get<double>() == doctest::Approx(bits["validation"].get<double>()));
}

TEST_CASE("e2e generate: unknown prompt characters and bad options exit 2; no vocabulary exits 3") {
  TempDir dir;
  const auto text = dir.write("tiny.txt", tiny_text());
  const auto config = dir.write("c.yaml", char_config(text, "train: {epochs: 1, batch_size: 16}\n"));
  const auto trained =
      run_dlrun("train " + config.string() + " --quiet --threads 1 --out " + (dir / "run").string());
  REQUIRE_MESSAGE(trained.exit_code == 0, trained.err);
  const std::string base =
      "generate " + config.string() + " --checkpoint " + (dir / "run/checkpoints/last.safetensors").string();

  const auto unknown = run_dlrun(base + " --prompt 'the dog'");
  CHECK(unknown.exit_code == 2);
  REQUIRE(error_lines(unknown.err).size() == 1);
  CHECK(error_lines(unknown.err)[0] ==
        "error: the prompt's character 'd' (position 5) is not in the model's vocabulary of 15 characters");
  CHECK(unknown.out.empty());
  CHECK(run_dlrun(base + " --prompt the --temperature 0").exit_code == 2);
  CHECK(run_dlrun(base + " --prompt the --top-k 16").exit_code == 2);
  CHECK(run_dlrun(base + " --prompt ''").exit_code == 2);
  CHECK(run_dlrun(base + " --prompt the --length -1").exit_code == 2);
  CHECK(run_dlrun(base).exit_code == 2);  // --prompt is required

  // A checkpoint of a model trained on CSV data has no vocabulary.
  const auto csv = write_blobs_csv(dir, 30);
  const auto csv_config = dir.write("csv.yaml", tiny_csv_config(csv, "train: {epochs: 1}\n"));
  REQUIRE(
      run_dlrun("train " + csv_config.string() + " --quiet --out " + (dir / "csv_run").string()).exit_code ==
      0);
  const auto no_vocabulary =
      run_dlrun("generate " + config.string() + " --checkpoint " +
                (dir / "csv_run/checkpoints/last.safetensors").string() + " --prompt the");
  CHECK(no_vocabulary.exit_code == 3);
  CHECK(no_vocabulary.err.find("the checkpoint has no character vocabulary") != std::string::npos);
  // And a config whose data is not text cannot generate.
  CHECK(run_dlrun("generate " + csv_config.string() + " --checkpoint " +
                  (dir / "csv_run/checkpoints/last.safetensors").string() + " --prompt the")
            .exit_code == 2);
}
