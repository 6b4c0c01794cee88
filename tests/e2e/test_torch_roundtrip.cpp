// End-to-end: the torch -> dlrun half of the PyTorch round trip without torch. A model built in torch
// by scripts/torch_export.py's builder, its state_dict turned into a dlrun checkpoint by
// scripts/torch_import.py (scripts/fixtures/torch_roundtrip.py, which also checks dlrun -> torch);
// `dlrun predict --raw` with that checkpoint must give torch's outputs to 1e-4, for a CNN and an LSTM.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "data/npy_reader.hpp"
#include "e2e/e2e_support.hpp"
#include "support/fixtures.hpp"

using namespace dlrun::testing;

TEST_CASE("e2e torch round trip: torch_import's checkpoints reproduce torch's outputs (CNN, LSTM)") {
  for (const std::string name : {"cnn", "lstm"}) {
    CAPTURE(name);
    const auto folder = test_data_path("fixtures/roundtrip/" + name);
    const dlrun::Tensor expected =
        tensor_from_json(load_fixture("fixtures/roundtrip/" + name + "/expected.json")["outputs"]);
    const auto result = run_dlrun("predict " + (folder / "config.yaml").string() + " --checkpoint " +
                                  (folder / "imported.safetensors").string() + " --input " +
                                  (folder / "x.npy").string() + " --raw");
    REQUIRE_MESSAGE(result.exit_code == 0, result.err);
    const auto rows = parse_raw_csv(result.out);
    const dlrun::Index examples = expected.shape()[0];
    const dlrun::Index width = expected.size() / examples;
    REQUIRE(static_cast<dlrun::Index>(rows.size()) == examples);
    double worst = 0.0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      REQUIRE(static_cast<dlrun::Index>(rows[i].size()) == width);
      for (std::size_t j = 0; j < rows[i].size(); ++j)
        worst = std::max(worst,
                         std::abs(rows[i][j] - expected.values()[i * static_cast<std::size_t>(width) + j]));
    }
    CHECK(worst <= 1e-4);
  }
}

TEST_CASE("e2e predict --output x.npy: float32 (N, classes) probabilities, or (N, outputs) with --raw") {
  const auto folder = test_data_path("fixtures/roundtrip/lstm");
  TempDir dir;
  const std::string predict = "predict " + (folder / "config.yaml").string() + " --checkpoint " +
                              (folder / "imported.safetensors").string() + " --input " +
                              (folder / "x.npy").string();
  const auto csv = run_dlrun(predict + " --raw");
  REQUIRE_MESSAGE(csv.exit_code == 0, csv.err);
  const auto raw = run_dlrun(predict + " --raw --output " + (dir / "raw.npy").string());
  REQUIRE_MESSAGE(raw.exit_code == 0, raw.err);
  const auto classes = run_dlrun(predict + " --output " + (dir / "p.npy").string());
  REQUIRE_MESSAGE(classes.exit_code == 0, classes.err);

  const auto rows = parse_raw_csv(csv.out);
  const dlrun::NpyArray raw_array = dlrun::read_npy_array(dir / "raw.npy", "output");
  REQUIRE(raw_array.dtype == "<f4");
  REQUIRE(raw_array.shape == std::vector<dlrun::Index>{static_cast<dlrun::Index>(rows.size()), 3});
  std::vector<float> values(raw_array.bytes.size() / sizeof(float));
  std::memcpy(values.data(), raw_array.bytes.data(), raw_array.bytes.size());
  double worst = 0.0;
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (std::size_t j = 0; j < 3; ++j) worst = std::max(worst, std::abs(rows[i][j] - values[i * 3 + j]));
  CHECK(worst <= 1e-7);  // the CSV's 9 significant digits of the same floats
  // The final softmax is the probabilities: the same numbers, shape (N, 3).
  const dlrun::NpyArray probabilities = dlrun::read_npy_array(dir / "p.npy", "output");
  CHECK(probabilities.shape == raw_array.shape);
  CHECK(probabilities.bytes.size() == raw_array.bytes.size());
}
