// run_search's nested cross-validation without leakage: an outer fold's held-out rows never reach
// that fold's inner search (its folds' normalisation, early stopping and scores), its selection, or
// the training of the chosen point on the outer training rows; only the final evaluation sees them.
#include <doctest/doctest.h>

#include <array>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config/parse_config.hpp"
#include "config/yaml_loader.hpp"
#include "select/search.hpp"
#include "select/strategy.hpp"
#include "select/training_evaluator.hpp"
#include "support/temp_dir.hpp"

using namespace dlrun;
namespace fs = std::filesystem;

namespace {

using Row = std::array<double, 3>;

// 90 rows of 3 features on very different scales, two classes separable by a noisy rule.
std::vector<Row> blob_rows() {
  std::vector<Row> rows;
  Rng rng(8);
  for (int i = 0; i < 90; ++i) {
    const int label = i % 2;
    rows.push_back(
        {label + 0.6 * rng.normal(), 100.0 + 40.0 * rng.normal(), 0.01 * (label - 0.5 + rng.normal())});
  }
  return rows;
}

std::string csv_of(const std::vector<Row>& rows) {
  std::ostringstream text;
  text << "a,b,c,y\n";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    text << rows[i][0] << ',' << rows[i][1] << ',' << rows[i][2] << ',' << (i % 2 ? "yes" : "no") << '\n';
  }
  return text.str();
}

Config nested_config(const testing::TempDir& dir, const std::string& csv) {
  const auto file = dir / (csv + ".yaml");
  const std::string text =
      "seed: 4\n"
      "data:\n  train: {format: csv, path: " +
      csv +
      ", label: y}\n"
      "  validation: {split: 0.25}\n  normalize: standard\n"
      "model:\n  layers:\n    - {type: dense, name: hidden, units: 8, activation: relu}\n"
      "    - {type: dense, units: 2, activation: softmax}\n"
      "optimizer: {type: adam, lr: 0.05}\n"
      "train:\n  epochs: 30\n  batch_size: 8\n"
      "  early_stopping: {monitor: val_loss, patience: 2, restore_best: true}\n"
      "cv: {folds: 2}\n"
      "search:\n  strategy: grid\n  metric: val_loss\n  evaluate: cv\n  space:\n"
      "    optimizer.lr: {choice: [0.01, 0.1]}\n"
      "    model.layers.hidden.units: {choice: [2, 8]}\n";
  return config_from_tree(parse_yaml(text, file.string()), file);
}

// trials.csv without its seconds column (the 3rd from the end).
std::vector<std::string> trials_without_seconds(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> rows;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> fields;
    std::stringstream cells(line);
    for (std::string field; std::getline(cells, field, ',');) fields.push_back(field);
    if (line.ends_with(",")) fields.emplace_back();
    REQUIRE(fields.size() >= 4);
    fields.erase(fields.end() - 3);
    std::string row;
    for (const std::string& field : fields) row += field + ",";
    rows.push_back(row);
  }
  return rows;
}

}  // namespace

TEST_CASE("nested cv: an outer fold's held-out rows never reach its inner search, selection or training") {
  testing::TempDir dir;
  std::vector<Row> rows = blob_rows();
  dir.write("clean.csv", csv_of(rows));
  const Config clean = nested_config(dir, "clean.csv");
  const CvData pool = load_cv_data(clean);
  REQUIRE(pool.rows.size() == 90);
  const std::vector<Fold> outer = nested_outer_folds(clean, pool, 2);
  REQUIRE(outer.size() == 2);

  // The same data with outer fold 1's held-out rows made absurd (labels kept, so the folds are
  // the same).
  for (const Index row : outer[0].held_out) {
    for (std::size_t f = 0; f < 3; ++f)
      rows[static_cast<std::size_t>(row)][f] = 1.0e6 * static_cast<double>(f + 1);
  }
  dir.write("corrupt.csv", csv_of(rows));
  const Config corrupt = nested_config(dir, "corrupt.csv");
  const CvData corrupt_pool = load_cv_data(corrupt);
  REQUIRE(nested_outer_folds(corrupt, corrupt_pool, 2)[0].held_out == outer[0].held_out);

  SearchOptions options;
  options.outer_folds = 2;
  options.out = dir / "clean";
  const SearchOutcome a = run_search(clean, options);
  options.out = dir / "corrupt";
  const SearchOutcome b = run_search(corrupt, options);
  REQUIRE(a.exit_code == 0);
  REQUIRE(b.exit_code == 0);
  const auto& clean_folds = a.summary["nested"]["folds"];
  const auto& corrupt_folds = b.summary["nested"]["folds"];

  // Outer fold 1: every inner trial scores the same (the inner folds' normalisation and early
  // stopping saw only the outer training rows), so the same point is chosen ...
  CHECK(trials_without_seconds(dir / "clean" / "outer-1" / "trials.csv") ==
        trials_without_seconds(dir / "corrupt" / "outer-1" / "trials.csv"));
  CHECK(clean_folds[0]["inner"] == corrupt_folds[0]["inner"]);
  CHECK(clean_folds[0]["params"] == corrupt_folds[0]["params"]);
  // ... and trained on the outer training rows exactly as before: same transform, same epochs
  // and early-stopping decisions; only the final evaluation on the held-out rows moves.
  const SearchSpace space = parse_search_space(clean.search.space);
  const Point chosen = grid_points(space).at(clean_folds[0]["inner"]["best"]["trial"].get<std::size_t>() - 1);
  const Config best = config_for_point(space, chosen, clean.tree, clean.file);
  const Config best_corrupt = config_for_point(space, chosen, corrupt.tree, corrupt.file);
  const FoldResult refit = run_fold(best, pool, outer[0]);
  const FoldResult refit_corrupt = run_fold(best_corrupt, corrupt_pool, outer[0]);
  CHECK(refit.run.status == "early_stopped");
  CHECK(refit.transform.offset == refit_corrupt.transform.offset);
  CHECK(refit.transform.multiplier == refit_corrupt.transform.multiplier);
  CHECK(refit.run.epochs == refit_corrupt.run.epochs);
  CHECK(refit.run.best_epoch == refit_corrupt.run.best_epoch);
  CHECK(refit.run.validation == refit_corrupt.run.validation);
  CHECK(clean_folds[0]["metric"] != corrupt_folds[0]["metric"]);

  // The check can fail: outer fold 2 trains on the changed rows, and its inner search moves.
  CHECK(trials_without_seconds(dir / "clean" / "outer-2" / "trials.csv") !=
        trials_without_seconds(dir / "corrupt" / "outer-2" / "trials.csv"));
}
