// End-to-end: bad input gets one clear line and the documented exit code, never a crash, and a
// failed run never leaves a run directory that looks complete.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>

#include "e2e/e2e_support.hpp"

using namespace dlrun::testing;
namespace fs = std::filesystem;

TEST_CASE("e2e bad input: config errors exit 2 with file:line:col") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 30);
  struct Case {
    std::string name, yaml, expected;
  };
  const std::vector<Case> cases{
      {"unknown layer",
       tiny_csv_config(csv, "train: {epochs: 1}\n")
           .replace(tiny_csv_config(csv).find("type: dense, name: hidden"), 11, "type: dense2d"),
       "c.yaml:8:14: unknown layer type 'dense2d' (did you mean 'dense'?)"},
      {"unknown top key", tiny_csv_config(csv, "trian: {epochs: 1}\n"),
       "c.yaml:14:1: unknown key 'trian' (did you mean 'train'?)"},
      {"bad type", tiny_csv_config(csv, "train: {epochs: abc}\n"), "c.yaml:14:17"},
      {"bad range", tiny_csv_config(csv, "train: {batch_size: 0}\n"), "batch_size"},
      {"negative lr", tiny_csv_config(csv).replace(tiny_csv_config(csv).find("lr: 0.01"), 8, "lr: -1.0"),
       "lr"},
      {"bad dropout", tiny_csv_config(csv).replace(tiny_csv_config(csv).find("rate: 0.1"), 9, "rate: 1.5"),
       "rate"},
      {"unknown option",
       tiny_csv_config(csv).replace(tiny_csv_config(csv).find("units: 8"), 8, "units: 8, unitz: 8"),
       "unknown option 'unitz' (did you mean 'units'?)"},
      {"output mismatch", tiny_csv_config(csv).replace(tiny_csv_config(csv).find("units: 3"), 8, "units: 5"),
       "outputs 5 values but the data has 3 classes"},
      {"yaml syntax", "data: [1, 2\n", "c.yaml:"},
      {"nan", tiny_csv_config(csv, "train: {epochs: 1, clip_grad_norm: .nan}\n"), "finite"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const auto config = dir.write("c.yaml", c.yaml);
    const auto result = run_dlrun("train " + config.string() + " --out " + (dir / "run").string());
    CHECK(result.exit_code == 2);
    check_one_error_line(result, c.expected);
    CHECK_FALSE(fs::exists(dir / "run"));
  }
}

TEST_CASE("e2e bad input: data errors exit 3 naming the file (and line and column for CSV)") {
  TempDir dir;
  struct Case {
    std::string name, file_text, expected;
  };
  const std::vector<Case> cases{
      {"ragged", "a,b,c,d,label\n1,2,3,4,x\n1,2,3,x\n", "d.csv:3"},
      {"non-numeric", "a,b,c,d,label\n1,2,3,4,x\n1,2,oops,4,y\n", "d.csv:3:"},
      {"empty", "a,b,c,d,label\n", "d.csv"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const auto csv = dir.write("d.csv", c.file_text);
    const auto config = dir.write("c.yaml", tiny_csv_config(csv));
    const auto result = run_dlrun("train " + config.string() + " --out " + (dir / "run").string());
    CHECK(result.exit_code == 3);
    check_one_error_line(result, c.expected);
    CHECK_FALSE(fs::exists(dir / "run"));
  }
  const auto missing = dir.write("c.yaml", tiny_csv_config(dir / "missing.csv"));
  const auto result = run_dlrun("train " + missing.string());
  CHECK(result.exit_code == 3);
  check_one_error_line(result, "missing.csv");
}

TEST_CASE("e2e bad input: IDX truncated, wrong magic and count mismatch exit 3") {
  TempDir dir;
  auto idx = [](int magic_type, std::vector<int> dims, int payload) {
    std::string bytes{'\0', '\0', static_cast<char>(magic_type), static_cast<char>(dims.size())};
    for (const int d : dims) {
      for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>((d >> shift) & 0xFF));
    }
    bytes.append(static_cast<std::size_t>(payload), '\1');
    return bytes;
  };
  auto config_for = [&](const std::string& images, const std::string& labels) {
    return "data:\n  train: {format: idx, images: " + images + ", labels: " + labels +
           "}\nmodel:\n  layers:\n    - {type: flatten}\n    - {type: dense, units: 2}\n";
  };
  struct Case {
    std::string name, images, labels, expected;
  };
  const std::vector<Case> cases{
      {"truncated", idx(0x08, {10, 4, 4}, 100), idx(0x08, {10}, 10), "i.idx"},
      {"wrong magic", std::string("\x12\x34\x08\x03", 4) + std::string(200, '\0'), idx(0x08, {10}, 10),
       "i.idx"},
      {"count mismatch", idx(0x08, {10, 4, 4}, 160), idx(0x08, {9}, 9), "9"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const auto images = dir.write("i.idx", c.images);
    const auto labels = dir.write("l.idx", c.labels);
    const auto config = dir.write("c.yaml", config_for(images.string(), labels.string()));
    const auto result = run_dlrun("train " + config.string() + " --out " + (dir / "run").string());
    CHECK(result.exit_code == 3);
    check_one_error_line(result, c.expected);
    CHECK_FALSE(fs::exists(dir / "run"));
  }
}

TEST_CASE("e2e bad input: usage errors exit 2; a shape mismatch names the layer") {
  CHECK(run_dlrun("").exit_code == 2);
  CHECK(run_dlrun("train").exit_code == 2);
  CHECK(run_dlrun("frobnicate x.yaml").exit_code == 2);
  CHECK(run_dlrun("train /nonexistent/config.yaml").exit_code == 2);

  TempDir dir;
  const auto csv = write_blobs_csv(dir, 30);
  // A pooling layer fed (N, 3) features names itself in the error.
  const std::string yaml = "data:\n  train: {format: csv, path: " + csv.string() +
                           ", label: label}\nmodel:\n  layers:\n    - {type: dense, name: fc1, units: 3}\n"
                           "    - {type: maxpool2d, name: pool9, pool: 2}\n";
  const auto config = dir.write("c.yaml", yaml);
  const auto result = run_dlrun("train " + config.string());
  CHECK(result.exit_code == 2);
  check_one_error_line(result, "layer 'pool9' (maxpool2d)");
}
