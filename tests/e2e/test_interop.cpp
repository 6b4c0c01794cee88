// End-to-end: weights written by PyTorch (scripts/fixtures/torch_interop.py) under dlrun's layer
// names load into the same network built by dlrun from a config. `predict --raw` reproduces torch's
// outputs, `eval` torch's loss, and `train --weights` starts from them. The models cover every
// layer type. (The other direction, a dlrun checkpoint loaded into torch, is checked by the script
// when it generates these fixtures.)
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "e2e/e2e_support.hpp"
#include "support/fixtures.hpp"

using namespace dlrun::testing;
namespace fs = std::filesystem;

namespace {

struct InteropCase {
  std::string name;
  std::string input;                    // the inputs given to predict
  std::vector<std::string> batchnorms;  // frozen (momentum 0) for the --weights check
};

const std::vector<InteropCase> kCases{
    {"mlp", "data.csv", {"bn1"}},
    {"cnn_a", "x.npy", {}},
    {"cnn_b", "x.npy", {"bn1", "bn2"}},
};

fs::path case_path(const InteropCase& c, const std::string& file) {
  return test_data_path("fixtures/interop/" + c.name + "/" + file);
}

double scaled_error(double actual, double expected) {
  return std::abs(actual - expected) / std::max(1.0, std::abs(expected));
}

}  // namespace

TEST_CASE("e2e interop: predict --raw with PyTorch weights reproduces PyTorch's outputs") {
  for (const InteropCase& c : kCases) {
    CAPTURE(c.name);
    const auto expected = load_fixture("fixtures/interop/" + c.name + "/expected.json");
    const dlrun::Tensor outputs = tensor_from_json(expected["outputs"]);
    const auto result = run_dlrun("predict " + case_path(c, "config.yaml").string() + " --checkpoint " +
                                  case_path(c, "weights.safetensors").string() + " --input " +
                                  case_path(c, c.input).string() + " --raw");
    REQUIRE_MESSAGE(result.exit_code == 0, result.err);
    const auto rows = parse_raw_csv(result.out);
    const dlrun::Index examples = outputs.shape()[0];
    const dlrun::Index width = outputs.size() / examples;
    REQUIRE(static_cast<dlrun::Index>(rows.size()) == examples);
    double worst = 0.0;
    for (dlrun::Index i = 0; i < examples; ++i) {
      REQUIRE(static_cast<dlrun::Index>(rows[static_cast<std::size_t>(i)].size()) == width);
      for (dlrun::Index j = 0; j < width; ++j) {
        worst = std::max(worst, scaled_error(rows[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)],
                                             outputs.values()[static_cast<std::size_t>(i * width + j)]));
      }
    }
    CHECK(worst <= 1e-4);
  }
}

TEST_CASE("e2e interop: eval with PyTorch weights gives PyTorch's loss") {
  for (const InteropCase& c : kCases) {
    CAPTURE(c.name);
    const auto expected = load_fixture("fixtures/interop/" + c.name + "/expected.json");
    const auto result =
        run_dlrun("eval " + case_path(c, "config.yaml").string() + " --split validation --checkpoint " +
                  case_path(c, "weights.safetensors").string());
    REQUIRE_MESSAGE(result.exit_code == 0, result.err);
    const auto summary = last_json_line(result.out);
    CHECK(scaled_error(summary["loss"].get<double>(), expected["loss"].get<double>()) <= 1e-4);
  }
}

TEST_CASE("e2e interop: train --weights starts from PyTorch's weights") {
  TempDir dir;
  for (const InteropCase& c : kCases) {
    CAPTURE(c.name);
    const auto expected = load_fixture("fixtures/interop/" + c.name + "/expected.json");
    // A learning rate far below float resolution and frozen running statistics keep the
    // parameters where they started, so the validation loss after the epoch is the initial one.
    std::string sets = " --set optimizer.lr=1e-30";
    for (const std::string& bn : c.batchnorms) sets += " --set model.layers." + bn + ".momentum=0";
    const auto result =
        run_dlrun("train " + case_path(c, "config.yaml").string() + " --quiet --weights " +
                  case_path(c, "weights.safetensors").string() + sets + " --out " + (dir / c.name).string());
    REQUIRE_MESSAGE(result.exit_code == 0, result.err);
    const auto summary = last_json_line(result.out);
    CHECK(scaled_error(summary["validation"]["loss"].get<double>(), expected["loss"].get<double>()) <= 1e-4);

    // Without the weights the same run starts elsewhere (dlrun's own initialisation).
    const auto fresh = run_dlrun("train " + case_path(c, "config.yaml").string() + " --quiet" + sets +
                                 " --out " + (dir / (c.name + "-fresh")).string());
    REQUIRE_MESSAGE(fresh.exit_code == 0, fresh.err);
    CHECK(scaled_error(last_json_line(fresh.out)["validation"]["loss"].get<double>(),
                       expected["loss"].get<double>()) > 1e-3);
  }
}
