// assign_folds / make_folds: sizes, stratification, every row held out once per repeat,
// determinism from the seed, and the errors for too few rows.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/errors.hpp"
#include "select/folds.hpp"
#include "support/rows.hpp"

using namespace dlrun;
using dlrun::testing::all_rows;

namespace {

// n rows of one feature; labels with the given class sizes (class c has sizes[c] rows).
Dataset labelled(const std::vector<Index>& sizes) {
  Dataset dataset;
  dataset.source = "memory.csv";
  dataset.sample_shape = Shape{1};
  for (std::size_t c = 0; c < sizes.size(); ++c) {
    dataset.class_names.push_back("c" + std::to_string(c));
    for (Index i = 0; i < sizes[c]; ++i) {
      dataset.floats.push_back(static_cast<float>(dataset.labels.size()));
      dataset.labels.push_back(static_cast<std::int32_t>(c));
    }
  }
  return dataset;
}

CvConfig fold_config(Index folds, bool stratified = true, Index repeats = 1) {
  CvConfig cv;
  cv.folds = folds;
  cv.stratified = stratified;
  cv.repeats = repeats;
  return cv;
}

}  // namespace

TEST_CASE("folds: sizes differ by at most one and every row is held out exactly once per repeat") {
  const Dataset dataset = labelled({17, 9, 11});  // 37 rows
  const auto rows = all_rows(dataset);
  for (const bool stratified : {true, false}) {
    const auto folds = make_folds(dataset, rows, fold_config(5, stratified, 2), 7);
    REQUIRE(folds.size() == 10);
    for (Index repeat = 0; repeat < 2; ++repeat) {
      std::map<Index, int> held;
      Index smallest = 1000;
      Index largest = 0;
      for (const Fold& fold : folds) {
        if (fold.repeat != repeat) continue;
        CHECK(fold.train.size() + fold.held_out.size() == rows.size());
        std::set<Index> train(fold.train.begin(), fold.train.end());
        for (const Index row : fold.held_out) {
          ++held[row];
          CHECK(train.count(row) == 0);  // never both
        }
        smallest = std::min<Index>(smallest, static_cast<Index>(fold.held_out.size()));
        largest = std::max<Index>(largest, static_cast<Index>(fold.held_out.size()));
      }
      CHECK(held.size() == rows.size());
      for (const auto& [row, count] : held) CHECK(count == 1);
      CHECK(largest - smallest <= 1);
    }
  }
}

TEST_CASE("folds: stratified folds keep the class proportions; unstratified ones need not") {
  const Dataset dataset = labelled({40, 10});  // 80% / 20%
  const auto rows = all_rows(dataset);
  const auto folds = make_folds(dataset, rows, fold_config(5), 3);
  for (const Fold& fold : folds) {
    Index minority = 0;
    for (const Index row : fold.held_out) minority += dataset.labels[static_cast<std::size_t>(row)] == 1;
    CHECK(fold.held_out.size() == 10);
    CHECK(minority == 2);  // exactly 20% of every fold
  }
  // A class of 7 rows over 3 folds: counts 3, 2, 2 (within one of each other).
  const Dataset uneven = labelled({7, 8});
  std::map<Index, Index> per_fold;
  for (const Fold& fold : make_folds(uneven, all_rows(uneven), fold_config(3), 1)) {
    for (const Index row : fold.held_out)
      per_fold[fold.fold] += uneven.labels[static_cast<std::size_t>(row)] == 0;
  }
  for (const auto& [fold, count] : per_fold) CHECK((count == 2 || count == 3));
}

TEST_CASE("folds: the same seed gives the same folds; another seed or repeat shuffles differently") {
  const Dataset dataset = labelled({30, 30});
  const auto rows = all_rows(dataset);
  const auto a = assign_folds(dataset, rows, fold_config(4, true, 2), 11);
  const auto b = assign_folds(dataset, rows, fold_config(4, true, 2), 11);
  const auto c = assign_folds(dataset, rows, fold_config(4, true, 2), 12);
  CHECK(a == b);
  CHECK(a != c);
  CHECK(a[0] != a[1]);
  // shuffle: false keeps the rows' order: unstratified folds are contiguous runs.
  CvConfig ordered = fold_config(4, false);
  ordered.shuffle = false;
  const auto runs = assign_folds(dataset, rows, ordered, 11);
  CHECK(std::is_sorted(runs[0].begin(), runs[0].end()));
  CHECK(runs[0].front() == 0);
  CHECK(runs[0].back() == 3);
}

TEST_CASE("folds: too few rows, or a class smaller than the folds, is a data error naming the file") {
  const Dataset dataset = labelled({6, 3});
  const auto rows = all_rows(dataset);
  try {
    assign_folds(dataset, rows, fold_config(4), 1);
    FAIL("expected a DataError");
  } catch (const DataError& error) {
    CHECK(std::string(error.what()).find("memory.csv: class 'c1' has 3 rows, fewer than the 4") == 0);
  }
  CHECK_NOTHROW(assign_folds(dataset, rows, fold_config(4, false), 1));  // unstratified: fine
  try {
    assign_folds(dataset, rows, fold_config(10, false), 1);
    FAIL("expected a DataError");
  } catch (const DataError& error) {
    CHECK(std::string(error.what()) == "memory.csv: 9 rows cannot make 10 folds; lower cv.folds (--folds)");
  }
  CHECK_THROWS_AS(assign_folds(dataset, rows, fold_config(1, false), 1), ConfigError);
}
