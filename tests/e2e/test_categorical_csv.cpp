// End-to-end: a CSV with a categorical column (data.categorical): train, predict from a CSV whose
// columns come in another order, an unknown category (error, or all zeros with handle_unknown:
// ignore), and a checkpoint whose categories no longer match the training data.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "e2e/e2e_support.hpp"
#include "train/checkpoint.hpp"

using namespace dlrun::testing;
namespace fs = std::filesystem;

namespace {

// The class is the colour (red -> warm, blue -> cold, green -> mild); x is noise.
fs::path write_colours(const TempDir& dir, const std::string& name, const std::string& third = "green") {
  std::ostringstream csv;
  csv << "x,colour,label\n";
  const std::string colours[] = {"red", "blue", third};
  const char* labels[] = {"warm", "cold", "mild"};
  for (int i = 0; i < 60; ++i) {
    const int k = i % 3;
    csv << (i * 37 % 11) * 0.1 - 0.5 << "," << colours[k] << "," << labels[k] << "\n";
  }
  return dir.write(name, csv.str());
}

std::string config_for(const fs::path& csv, const std::string& extra = "") {
  return "seed: 3\n"
         "data:\n"
         "  train: {format: csv, path: " +
         csv.string() +
         ", label: label}\n"
         "  validation: {split: 0.2}\n"
         "  normalize: standard\n"
         "  categorical: [colour]\n" +
         extra +
         "model:\n"
         "  layers:\n"
         "    - {type: dense, units: 8, activation: relu}\n"
         "    - {type: dense, units: 3, activation: softmax}\n"
         "loss: cross_entropy\n"
         "metrics: [accuracy]\n"
         "optimizer: {type: adam, lr: 0.05}\n"
         "train: {epochs: 30, batch_size: 8}\n";
}

}  // namespace

TEST_CASE("e2e categorical csv: train, predict by column name, unknown categories, checkpoint check") {
  TempDir dir;
  const fs::path train_csv = write_colours(dir, "train.csv");
  const fs::path config = dir.write("c.yaml", config_for(train_csv));
  const auto trained = run_dlrun("train " + config.string() + " --quiet --out " + (dir / "run").string());
  REQUIRE_MESSAGE(trained.exit_code == 0, trained.err);
  const auto summary = last_json_line(trained.out);
  CHECK(summary["validation"]["accuracy"].get<double>() == 1.0);
  const fs::path checkpoint = dir / "run/checkpoints/best.safetensors";
  const dlrun::LoadedCheckpoint loaded = dlrun::read_checkpoint(checkpoint);
  CHECK(loaded.state.categories ==
        std::vector<dlrun::CategoricalColumn>{{"colour", {"blue", "green", "red"}}});

  // Columns in another order, no label: read by name.
  const fs::path inputs = dir.write("new.csv", "colour,x\nblue,0.1\nred,-0.3\ngreen,0.2\n");
  const std::string predict = "predict " + config.string() + " --checkpoint " + checkpoint.string();
  const auto predicted = run_dlrun(predict + " --input " + inputs.string());
  REQUIRE_MESSAGE(predicted.exit_code == 0, predicted.err);
  std::istringstream rows(predicted.out);
  std::string header, row;
  std::getline(rows, header);
  CHECK(header == "index,label,p_cold,p_mild,p_warm");
  std::vector<std::string> labels;
  while (std::getline(rows, row)) labels.push_back(row.substr(2, row.find(',', 2) - 2));
  CHECK(labels == std::vector<std::string>{"cold", "warm", "mild"});

  // An unseen colour: a data error at its cell, or all zeros when the config says ignore.
  const fs::path unseen = dir.write("unseen.csv", "x,colour\n0.1,red\n0.2,purple\n");
  const auto refused = run_dlrun(predict + " --input " + unseen.string());
  CHECK(refused.exit_code == 3);
  CHECK_MESSAGE(refused.err.find(unseen.string() +
                                 ":3:5: field 2 ('colour'): category 'purple' does not occur in "
                                 "the training rows (categories: blue, green, red)") != std::string::npos,
                refused.err);
  const auto ignored = run_dlrun(predict + " --set data.handle_unknown=ignore --input " + unseen.string());
  CHECK_MESSAGE(ignored.exit_code == 0, ignored.err);
  CHECK(std::count(ignored.out.begin(), ignored.out.end(), '\n') == 3);

  // Training data with yellow for green: its categories differ from the checkpoint's.
  const fs::path yellow = write_colours(dir, "yellow.csv", "yellow");
  const fs::path other = dir.write("other.yaml", config_for(yellow));
  const auto mismatch = run_dlrun("eval " + other.string() + " --checkpoint " + checkpoint.string());
  CHECK(mismatch.exit_code == 3);
  CHECK_MESSAGE(
      mismatch.err.find("the checkpoint's one-hot categories differ from those the config's training "
                        "rows give (column 'colour': the training rows add 'yellow'; they lack 'green')") !=
          std::string::npos,
      mismatch.err);
}
