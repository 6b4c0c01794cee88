// End-to-end: the torch -> dlrun half of the PyTorch round trip without torch. A model built in torch
// by scripts/torch_export.py's builder, its state_dict turned into a dlrun checkpoint by
// scripts/torch_import.py (scripts/fixtures/torch_roundtrip.py, which also checks dlrun -> torch);
// `dlrun predict --raw` with that checkpoint must give torch's outputs to 1e-4, for a CNN and an LSTM.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

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
