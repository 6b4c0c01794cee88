// End-to-end: malformed checkpoints given to `dlrun eval --checkpoint` and `dlrun train --resume`
// are data errors (exit 3) reported on one line; nothing crashes. Covers a truncated file, a
// header length beyond the file, bad JSON, offsets out of bounds and overlapping, other dtypes,
// a tensor the model needs missing or misshapen, PyTorch weights given to --resume, and corrupt
// training state in a dlrun checkpoint.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include "core/tensor.hpp"
#include "e2e/e2e_support.hpp"
#include "e2e/error_lines.hpp"
#include "io/safetensors.hpp"

using namespace dlrun::testing;
namespace fs = std::filesystem;

namespace {

// A safetensors file from its header text and data bytes (the header padded to 8 bytes).
std::string raw_safetensors(std::string header, const std::string& data) {
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string bytes(8, '\0');
  for (std::size_t i = 0; i < 8; ++i) bytes[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return bytes + header + data;
}

std::string f64_bytes(std::size_t count, double value) {
  std::string data(count * 8, '\0');
  for (std::size_t i = 0; i < count; ++i) std::memcpy(data.data() + 8 * i, &value, 8);
  return data;
}

// The model of tiny_csv_config: hidden [8, 4] + [8], out [3, 8] + [3].
const std::vector<std::pair<std::string, dlrun::Shape>> kParameters{
    {"hidden.weight", {8, 4}}, {"hidden.bias", {8}}, {"out.weight", {3, 8}}, {"out.bias", {3}}};

// Every tensor of a checkpoint, with a function applied to the list and the metadata before writing.
void rewrite(const fs::path& from, const fs::path& to,
             const std::function<void(std::vector<std::pair<std::string, dlrun::Tensor>>&,
                                      std::map<std::string, std::string>&)>& change) {
  auto contents = dlrun::read_safetensors(from);
  change(contents.tensors, contents.metadata);
  std::vector<std::pair<std::string, const dlrun::Tensor*>> tensors;
  for (const auto& [name, tensor] : contents.tensors) tensors.emplace_back(name, &tensor);
  dlrun::write_safetensors(to, tensors, contents.metadata);
}

struct Fixture {
  TempDir dir;
  fs::path config;
  fs::path good;  // a dlrun checkpoint of config's model

  Fixture() {
    const auto csv = write_blobs_csv(dir, 30);
    config = dir.write("c.yaml", tiny_csv_config(csv, "train: {epochs: 1, batch_size: 8}\n"));
    const auto result = run_dlrun("train " + config.string() + " --quiet --out " + (dir / "good").string());
    REQUIRE_MESSAGE(result.exit_code == 0, result.err);
    good = dir / "good/checkpoints/last.safetensors";
  }

  // A fresh run-directory name for each use, since the fixture is shared by every test here.
  std::string unique(const std::string& name) const { return name + "-" + std::to_string(++uses_); }

  // Places `bytes` as the only checkpoint of a run directory named `name`; returns its path.
  fs::path bad_run(const std::string& name, const std::string& bytes) const {
    return dir.write(unique(name) + "/checkpoints/last.safetensors", bytes);
  }

 private:
  mutable int uses_ = 0;
};

// One trained fixture for all tests in this file (training is the slow part).
const Fixture& fixture() {
  static const Fixture shared;
  return shared;
}

// `dlrun eval` with the file and `dlrun train --resume` with it (as a file, and through its run
// directory) both exit 3 with one error line containing every one of `expected`.
void check_rejected(const Fixture& f, const fs::path& checkpoint, const std::vector<std::string>& expected) {
  CAPTURE(checkpoint);
  const auto eval =
      run_dlrun("eval " + f.config.string() + " --split validation --checkpoint " + checkpoint.string());
  const auto resume_file =
      run_dlrun("train " + f.config.string() + " --quiet --resume " + checkpoint.string());
  const auto resume_dir = run_dlrun("train " + f.config.string() + " --quiet --resume " +
                                    checkpoint.parent_path().parent_path().string());
  for (const auto* result : {&eval, &resume_file, &resume_dir}) {
    INFO(result->err);
    CHECK(result->exit_code == 3);
    const auto errors = error_lines(result->err);
    CHECK(errors.size() == 1);
    CHECK(result->out.empty());
  }
  // The run directory's resume may say "no readable checkpoint" instead when the file is no
  // safetensors at all; the file's own messages must name the problem.
  for (const auto* result : {&eval, &resume_file}) {
    const auto errors = error_lines(result->err);
    if (errors.empty()) continue;
    CHECK(errors[0].find(checkpoint.string()) != std::string::npos);
    for (const std::string& text : expected) CHECK_MESSAGE(errors[0].find(text) != std::string::npos, text);
  }
  CHECK_FALSE(fs::exists(checkpoint.parent_path().parent_path() / "summary.json"));
}

}  // namespace

TEST_CASE("e2e bad checkpoints: malformed safetensors files exit 3 with one error line") {
  const Fixture& f = fixture();
  const std::string good = read_bytes(f.good);

  SUBCASE("truncated file") {
    check_rejected(f, f.bad_run("truncated", good.substr(0, good.size() / 2)), {});
  }
  SUBCASE("shorter than the 8-byte length") {
    check_rejected(f, f.bad_run("tiny", good.substr(0, 5)), {"too short"});
  }
  SUBCASE("header length beyond the file") {
    std::string bytes = good;
    const std::uint64_t length = bytes.size() + 100;
    for (std::size_t i = 0; i < 8; ++i) bytes[i] = static_cast<char>((length >> (8 * i)) & 0xff);
    check_rejected(f, f.bad_run("long_header", bytes), {"exceeds the file size"});
  }
  SUBCASE("header length of 2^64 - 1") {
    check_rejected(f, f.bad_run("huge_header", std::string(8, '\xff') + "{}"), {"header length"});
  }
  SUBCASE("bad JSON") {
    check_rejected(f, f.bad_run("bad_json", raw_safetensors("{\"a\": {\"dtype\": \"F32\",", "")), {"JSON"});
  }
  SUBCASE("header not an object") {
    check_rejected(f, f.bad_run("array", raw_safetensors("[1, 2]", "")), {"not a JSON object"});
  }
  SUBCASE("offsets out of bounds") {
    const auto bytes = raw_safetensors(R"({"hidden.bias":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}})",
                                       std::string(16, '\0'));
    check_rejected(f, f.bad_run("out_of_bounds", bytes), {"hidden.bias", "past the data area"});
  }
  SUBCASE("overlapping offsets") {
    const auto bytes = raw_safetensors(R"({"hidden.bias":{"dtype":"F32","shape":[8],"data_offsets":[0,32]},)"
                                       R"("out.bias":{"dtype":"F32","shape":[3],"data_offsets":[20,32]}})",
                                       std::string(32, '\0'));
    check_rejected(f, f.bad_run("overlap", bytes), {"overlap"});
  }
  SUBCASE("shape that does not match the byte range") {
    const auto bytes = raw_safetensors(R"({"out.bias":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}})",
                                       std::string(12, '\0'));
    check_rejected(f, f.bad_run("range", bytes), {"out.bias", "12-byte"});
  }
  SUBCASE("dtype I64") {
    const auto bytes = raw_safetensors(R"({"out.bias":{"dtype":"I64","shape":[3],"data_offsets":[0,24]}})",
                                       std::string(24, '\0'));
    check_rejected(f, f.bad_run("i64", bytes), {"out.bias", "I64"});
  }
  SUBCASE("metadata value not a string") {
    check_rejected(f, f.bad_run("metadata", raw_safetensors(R"({"__metadata__":{"format":3}})", "")),
                   {"__metadata__"});
  }
  SUBCASE("empty file") {
    check_rejected(f, f.bad_run("empty", ""), {});
  }
}

TEST_CASE("e2e bad checkpoints: tensors the model needs missing or misshapen") {
  const Fixture& f = fixture();
  SUBCASE("a tensor missing (dlrun checkpoint without out.bias)") {
    const fs::path bad = f.dir / f.unique("missing") / "checkpoints/last.safetensors";
    fs::create_directories(bad.parent_path());
    rewrite(f.good, bad, [](auto& tensors, auto&) {
      std::erase_if(tensors, [](const auto& item) { return item.first == "out.bias"; });
    });
    check_rejected(f, bad, {"'out.bias'"});
  }
  SUBCASE("a tensor of the wrong shape names it and both shapes") {
    const fs::path bad = f.dir / f.unique("shape") / "checkpoints/last.safetensors";
    fs::create_directories(bad.parent_path());
    rewrite(f.good, bad, [](auto& tensors, auto&) {
      for (auto& [name, tensor] : tensors) {
        if (name == "hidden.weight") tensor = dlrun::Tensor(dlrun::Shape{4, 8}, 0.5f);
      }
    });
    check_rejected(f, bad, {"hidden.weight", "[4, 8]", "[8, 4]"});
  }
  SUBCASE("optimizer state missing (resume only; eval needs no optimizer state)") {
    const fs::path bad = f.dir / f.unique("optim") / "checkpoints/last.safetensors";
    fs::create_directories(bad.parent_path());
    rewrite(f.good, bad, [](auto& tensors, auto&) {
      std::erase_if(tensors, [](const auto& item) { return item.first == "optim.out.bias.exp_avg"; });
    });
    const auto eval =
        run_dlrun("eval " + f.config.string() + " --split validation --checkpoint " + bad.string());
    CHECK(eval.exit_code == 0);
    const auto resume = run_dlrun("train " + f.config.string() + " --quiet --resume " + bad.string());
    CHECK(resume.exit_code == 3);
    REQUIRE(error_lines(resume.err).size() == 1);
    CHECK(error_lines(resume.err)[0].find("optim.out.bias.exp_avg") != std::string::npos);
  }
}

TEST_CASE("e2e bad checkpoints: corrupt training state in a dlrun checkpoint") {
  const Fixture& f = fixture();
  std::string key;
  std::string value;
  SUBCASE("train_state not JSON") {
    key = "train_state", value = "{";
  }
  SUBCASE("train_state of the wrong types") {
    key = "train_state", value = R"({"epoch":"two"})";
  }
  SUBCASE("train_state history of the wrong shape") {
    key = "train_state";
    value =
        R"({"epoch":1,"step_in_epoch":0,"global_step":3,"stop_reason":"","history":[{"epoch":1,"train":5}]})";
  }
  SUBCASE("negative epoch") {
    key = "train_state";
    value = R"({"epoch":-1,"step_in_epoch":0,"global_step":3,"stop_reason":"","history":[]})";
  }
  SUBCASE("optimizer scalars of the wrong kind") {
    key = "optimizer_scalars", value = "[1]";
  }
  SUBCASE("optimizer step count negative") {
    key = "optimizer_scalars", value = R"({"step":-4})";
  }
  SUBCASE("another optimizer") {
    key = "optimizer", value = "sgd";
  }
  SUBCASE("unknown format") {
    key = "format", value = "dlrun-checkpoint-99";
  }
  SUBCASE("progress of the wrong types") {
    key = "progress", value = R"({"metrics":{"loss_sum":"x"}})";
  }
  SUBCASE("progress with a misshapen confusion matrix") {
    key = "progress";
    value = R"({"metrics":{"loss_sum":1,"examples":2,"confusion":[[1],[0,1,2,3],[]],"top_k_hits":0,)"
            R"("predictions":0,"abs_sum":0,"sq_sum":0,"target_sum":0,"target_sq_sum":0,"values":0},)"
            R"("penalty_sum":0,"penalty_examples":0})";
  }
  CAPTURE(key);
  CAPTURE(value);
  const fs::path run = f.dir / f.unique("state");
  const fs::path bad = run / "checkpoints/last.safetensors";
  fs::create_directories(bad.parent_path());
  rewrite(f.good, bad, [&](auto&, auto& metadata) { metadata[key] = value; });
  // A mid-epoch checkpoint, so that the progress is used.
  if (key == "progress") {
    rewrite(bad, bad, [&](auto&, auto& metadata) {
      metadata["train_state"] =
          R"({"epoch":0,"step_in_epoch":1,"global_step":1,"stop_reason":"","history":[]})";
    });
  }
  const auto resume = run_dlrun("train " + f.config.string() + " --quiet --resume " + bad.string());
  INFO(resume.err);
  CHECK(resume.exit_code == 3);
  CHECK(error_lines(resume.err).size() == 1);
  CHECK_FALSE(fs::exists(run / "summary.json"));
}

TEST_CASE("e2e bad checkpoints: PyTorch-written weights load with --weights and eval, not --resume") {
  const Fixture& f = fixture();
  const auto stored = dlrun::read_safetensors(f.good);
  std::vector<std::pair<std::string, const dlrun::Tensor*>> weights;
  for (const auto& [name, shape] : kParameters) weights.emplace_back(name, stored.find(name));
  const fs::path torch_file = f.dir / f.unique("torch") / "checkpoints/weights.safetensors";
  fs::create_directories(torch_file.parent_path());
  dlrun::write_safetensors(torch_file, weights, {{"format", "pt"}});

  const auto eval_good =
      run_dlrun("eval " + f.config.string() + " --split validation --checkpoint " + f.good.string());
  REQUIRE_MESSAGE(eval_good.exit_code == 0, eval_good.err);
  const auto eval =
      run_dlrun("eval " + f.config.string() + " --split validation --checkpoint " + torch_file.string());
  REQUIRE_MESSAGE(eval.exit_code == 0, eval.err);
  CHECK(last_json_line(eval.out)["loss"] == last_json_line(eval_good.out)["loss"]);

  const auto resume = run_dlrun("train " + f.config.string() + " --quiet --resume " + torch_file.string());
  CHECK(resume.exit_code == 3);
  const auto errors = error_lines(resume.err);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find("--weights") != std::string::npos);
  CHECK(errors[0].find(torch_file.string()) != std::string::npos);
  CHECK_FALSE(fs::exists(torch_file.parent_path().parent_path() / "summary.json"));
  CHECK_FALSE(fs::exists(torch_file.parent_path().parent_path() / "metrics.csv"));

  const auto weights_run = run_dlrun("train " + f.config.string() + " --quiet --weights " +
                                     torch_file.string() + " --out " + (f.dir / f.unique("fine")).string());
  CHECK_MESSAGE(weights_run.exit_code == 0, weights_run.err);
}

TEST_CASE("e2e bad checkpoints: F64 weights are converted to float32") {
  const Fixture& f = fixture();
  {
    std::string header = "{";
    std::string data;
    for (const auto& [name, shape] : kParameters) {
      const auto count = static_cast<std::size_t>(shape.element_count());
      if (header.size() > 1) header += ",";
      header += "\"" + name + "\":{\"dtype\":\"F64\",\"shape\":" + nlohmann::json(shape.dims()).dump() +
                ",\"data_offsets\":[" + std::to_string(data.size()) + "," +
                std::to_string(data.size() + 8 * count) + "]}";
      data += f64_bytes(count, 0.25);
    }
    const fs::path f64 = f.dir.write(f.unique("f64") + ".safetensors", raw_safetensors(header + "}", data));
    const auto eval64 =
        run_dlrun("eval " + f.config.string() + " --split validation --checkpoint " + f64.string());
    CHECK_MESSAGE(eval64.exit_code == 0, eval64.err);
    CHECK(error_lines(eval64.err).empty());
  }
}

TEST_CASE("e2e bad checkpoints: --resume with weights written by PyTorch itself suggests --weights") {
  // Written by scripts/fixtures/torch_interop.py, outside any run directory.
  const fs::path config = source_path("tests/data/fixtures/interop/mlp/config.yaml");
  const fs::path weights = source_path("tests/data/fixtures/interop/mlp/weights.safetensors");
  const auto resume = run_dlrun("train " + config.string() + " --quiet --resume " + weights.string());
  CHECK(resume.exit_code == 3);
  const auto errors = error_lines(resume.err);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find(weights.string()) != std::string::npos);
  CHECK(errors[0].find("use --weights") != std::string::npos);
}

TEST_CASE("e2e bad checkpoints: the malformed-checkpoint corpus through the CLI") {
  // tests/data/files/bad_checkpoints (scripts/make_bad_checkpoints.py): its valid checkpoint is one
  // of this fixture's model; each other file has one defect, which the error line must name.
  const Fixture& f = fixture();
  const fs::path folder = source_path("tests/data/files/bad_checkpoints");
  const auto eval = [&](const fs::path& checkpoint) {
    return run_dlrun("eval " + f.config.string() + " --split validation --checkpoint " + checkpoint.string());
  };
  const auto valid = eval(folder / "valid.safetensors");
  REQUIRE_MESSAGE(valid.exit_code == 0, valid.err);

  std::map<std::string, std::string> expected;
  std::ifstream listing(folder / "expected.tsv");
  for (std::string line; std::getline(listing, line);) {
    if (const auto tab = line.find('\t'); tab != std::string::npos)
      expected[line.substr(0, tab)] = line.substr(tab + 1);
  }
  const auto check_one_line = [](const CommandResult& result, const fs::path& file,
                                 const std::string& fragment) {
    INFO(result.err);
    CHECK(result.exit_code == 3);
    const auto errors = error_lines(result.err);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].find(file.string()) != std::string::npos);
    CHECK(errors[0].find(fragment) != std::string::npos);
  };
  // One file per kind of check through eval (the reader is tested on every file in tests/io).
  for (const char* name :
       {"header-length-2e64-1", "string-lone-surrogate", "offsets-overlap", "offsets-gap", "trailing-bytes",
        "shape-product-overflow", "dtype-lie-f16", "checksum-data-bit"}) {
    const fs::path file = folder / (std::string(name) + ".safetensors");
    CAPTURE(file);
    REQUIRE(expected.contains(file.filename().string()));
    check_one_line(eval(file), file, expected[file.filename().string()]);
  }
  // --weights and --resume read through the same path.
  const fs::path damaged = folder / "checksum-header-byte.safetensors";
  check_one_line(run_dlrun("train " + f.config.string() + " --quiet --weights " + damaged.string() +
                           " --out " + (f.dir / f.unique("weights")).string()),
                 damaged, "does not match the file's CRC-32");
  check_one_line(run_dlrun("train " + f.config.string() + " --quiet --resume " + damaged.string()), damaged,
                 "does not match the file's CRC-32");
  // A sample of the truncated prefixes of a real dlrun checkpoint (every prefix is read in tests/io).
  const std::string good = read_bytes(f.good);
  for (const std::size_t size :
       {std::size_t{0}, std::size_t{7}, std::size_t{8}, good.size() / 3, good.size() - 1}) {
    CAPTURE(size);
    const fs::path cut = f.dir.write(f.unique("prefix") + ".safetensors", good.substr(0, size));
    const auto result = eval(cut);
    CHECK(result.exit_code == 3);
    REQUIRE(error_lines(result.err).size() == 1);
    CHECK(error_lines(result.err)[0].find(cut.string()) != std::string::npos);
  }
}
