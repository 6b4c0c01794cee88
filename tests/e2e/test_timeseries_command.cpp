// End-to-end: a GRU trained on a tiny CSV time series (windows, horizon, time-ordered validation).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "e2e/e2e_support.hpp"

using namespace dlrun::testing;

TEST_CASE("e2e timeseries: a GRU learns a sine wave's next value; the validation split is the tail") {
  TempDir dir;
  std::string csv = "step,value\n";
  for (int t = 0; t < 240; ++t) csv += std::to_string(t) + "," + std::to_string(std::sin(t * 0.3)) + "\n";
  const auto data = dir.write("sine.csv", csv);
  const auto config = dir.write("ts.yaml",
                                "seed: 1\n"
                                "data:\n"
                                "  train: {format: timeseries, path: " +
                                    data.string() +
                                    ", target: value, window: 8, horizon: 2, features: [value]}\n"
                                    "  validation: {split: 0.25}\n"
                                    "model:\n"
                                    "  layers:\n"
                                    "    - {type: gru, units: 8}\n"
                                    "    - {type: dense, units: 1}\n"
                                    "loss: mse\n"
                                    "metrics: [mae]\n"
                                    "optimizer: {type: adam, lr: 0.02}\n"
                                    "train: {epochs: 15, batch_size: 16}\n");
  const auto result = run_dlrun("train " + config.string() + " --threads 1 --out " + (dir / "run").string());
  REQUIRE_MESSAGE(result.exit_code == 0, result.err);
  // 240 rows - 8 - 2 + 1 = 231 windows: the last 58 validate.
  CHECK(result.err.find("173 training examples, 58 validation") != std::string::npos);
  const auto summary = last_json_line(result.out);
  CHECK_FALSE(summary.contains("bits_per_char"));
  // A sine of amplitude 1: predicting its mean would score an MAE of about 0.64.
  CHECK(summary["validation"]["mae"].get<double>() < 0.15);
}
