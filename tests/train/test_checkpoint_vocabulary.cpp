// The text vocabulary in checkpoints: written as the metadata key `vocabulary`, read back and
// validated, and compared with the config's training text before a checkpoint is used.
#include <doctest/doctest.h>

#include "core/errors.hpp"
#include "io/safetensors.hpp"
#include "model/model_test_support.hpp"
#include "support/messages.hpp"
#include "support/temp_dir.hpp"
#include "train/checkpoint.hpp"

using namespace dlrun;
using dlrun::testing::TempDir;

namespace {

const Vocabulary kAbc(std::vector<std::uint8_t>{'\n', 'a', 'b', 'c'});

std::filesystem::path saved(const TempDir& dir, const Vocabulary& vocabulary) {
  Model model = testing::build_model("    - {type: dense, units: 2}\n", Shape{3});
  CheckpointState state;
  state.vocabulary = vocabulary;
  const auto path = dir / "c.safetensors";
  save_checkpoint(path, model, nullptr, state);
  return path;
}

// The checkpoint at `path` with its metadata key `vocabulary` set to `json` (raw text).
std::filesystem::path with_vocabulary_text(const TempDir& dir, const std::filesystem::path& path,
                                           const std::string& json) {
  SafetensorsContents contents = read_safetensors(path);
  contents.metadata["vocabulary"] = json;
  std::vector<std::pair<std::string, const Tensor*>> tensors;
  for (const auto& [name, tensor] : contents.tensors) tensors.emplace_back(name, &tensor);
  const auto edited = dir / "edited.safetensors";
  write_safetensors(edited, tensors, contents.metadata);
  return edited;
}

}  // namespace

TEST_CASE("checkpoint vocabulary: stored as a list of byte values and read back") {
  TempDir dir;
  const auto path = saved(dir, kAbc);
  CHECK(read_safetensors(path).metadata.at("vocabulary") == "[10,97,98,99]");
  const LoadedCheckpoint checkpoint = read_checkpoint(path);
  CHECK(checkpoint.state.vocabulary == kAbc);

  const auto without = saved(dir, Vocabulary{});  // not text data: no key
  CHECK_FALSE(read_safetensors(without).metadata.contains("vocabulary"));
  CHECK(read_checkpoint(without).state.vocabulary.empty());
}

TEST_CASE("checkpoint vocabulary: a malformed list is a DataError") {
  TempDir dir;
  const auto path = saved(dir, kAbc);
  for (const std::string json : {"[10,97,97]", "[300]", "[\"a\"]", "[]", "{}", "[10,"}) {
    CAPTURE(json);
    const auto edited = with_vocabulary_text(dir, path, json);
    CHECK_THROWS_AS(read_checkpoint(edited), DataError);
    CHECK(testing::contains(testing::message_of([&] { read_checkpoint(edited); }),
                            "malformed checkpoint metadata"));
  }
}

TEST_CASE("checkpoint vocabulary: must equal the training text's; plain weights are not checked") {
  TempDir dir;
  const LoadedCheckpoint checkpoint = read_checkpoint(saved(dir, kAbc));
  check_checkpoint_vocabulary(checkpoint, kAbc);
  check_checkpoint_vocabulary(checkpoint, std::nullopt);  // not text data

  const Vocabulary other(std::vector<std::uint8_t>{'a', 'b', 'c', 'd'});
  const std::string message = testing::message_of([&] { check_checkpoint_vocabulary(checkpoint, other); });
  CHECK(testing::contains(message,
                          "the checkpoint's vocabulary (4 characters) differs from the one of the "
                          "config's training text (4 characters): the training text adds 'd'; "
                          "it lacks '\\n'"));
  CHECK_THROWS_AS(check_checkpoint_vocabulary(checkpoint, other), DataError);
  const Vocabulary reordered(std::vector<std::uint8_t>{'a', '\n', 'b', 'c'});
  CHECK(testing::contains(testing::message_of([&] { check_checkpoint_vocabulary(checkpoint, reordered); }),
                          "the same characters in another order"));

  const LoadedCheckpoint no_vocabulary = read_checkpoint(saved(dir, Vocabulary{}));
  CHECK(testing::contains(testing::message_of([&] { check_checkpoint_vocabulary(no_vocabulary, kAbc); }),
                          "the checkpoint has no character vocabulary, but the config's data is text"));
  LoadedCheckpoint plain = no_vocabulary;
  plain.has_dlrun_state = false;  // weights from elsewhere (PyTorch): nothing to compare
  check_checkpoint_vocabulary(plain, kAbc);
}
