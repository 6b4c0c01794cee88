#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "data/dataset.hpp"
#include "support/rows.hpp"

using namespace dlrun;
using dlrun::testing::all_rows;

namespace {

// A classification dataset with `counts[c]` examples of class c, classes interleaved.
Dataset classes_dataset(const std::vector<int>& counts) {
  Dataset dataset;
  dataset.sample_shape = Shape{1};
  std::vector<int> left = counts;
  for (bool any = true; any;) {
    any = false;
    for (std::size_t c = 0; c < left.size(); ++c) {
      if (left[c]-- <= 0) continue;
      any = true;
      dataset.labels.push_back(static_cast<std::int32_t>(c));
      dataset.floats.push_back(static_cast<float>(dataset.floats.size()));
    }
  }
  for (std::size_t c = 0; c < counts.size(); ++c) dataset.class_names.push_back(std::to_string(c));
  return dataset;
}

std::vector<int> class_counts(const Dataset& dataset, const std::vector<Index>& rows) {
  std::vector<int> counts(dataset.class_names.size(), 0);
  for (const Index row : rows)
    ++counts[static_cast<std::size_t>(dataset.labels[static_cast<std::size_t>(row)])];
  return counts;
}

void check_partition(const Split& split, const std::vector<Index>& rows) {
  std::vector<Index> together = split.train;
  together.insert(together.end(), split.held_out.begin(), split.held_out.end());
  std::sort(together.begin(), together.end());
  std::vector<Index> expected = rows;
  std::sort(expected.begin(), expected.end());
  CHECK(together == expected);
}

}  // namespace

TEST_CASE("split: stratified by class, each class keeps its proportion") {
  const Dataset dataset = classes_dataset({60, 30, 10});
  const auto rows = all_rows(dataset);
  Rng rng(1);
  const Split split = split_rows(dataset, rows, 0.2, rng);
  CHECK(split.held_out.size() == 20);
  CHECK(split.train.size() == 80);
  CHECK(class_counts(dataset, split.held_out) == std::vector<int>{12, 6, 2});
  CHECK(class_counts(dataset, split.train) == std::vector<int>{48, 24, 8});
  check_partition(split, rows);
}

TEST_CASE("split: uneven proportions give round(fraction * n) overall, by largest remainder") {
  const Dataset dataset = classes_dataset({5, 5, 3});  // 13 rows, 0.5 -> round(6.5) = 7 held out
  Rng rng(3);
  const Split split = split_rows(dataset, all_rows(dataset), 0.5, rng);
  CHECK(split.held_out.size() == 7);
  // Exact shares 2.69, 2.69, 1.62 -> floors 2, 2, 1 (5), the two largest remainders get one more.
  CHECK(class_counts(dataset, split.held_out) == std::vector<int>{3, 3, 1});
}

TEST_CASE("split: at least one row held out when fraction > 0 and n >= 2; none for fraction 0") {
  const Dataset dataset = classes_dataset({1, 1});
  Rng rng(5);
  const Split tiny = split_rows(dataset, all_rows(dataset), 0.01, rng);
  CHECK(tiny.held_out.size() == 1);
  CHECK(tiny.train.size() == 1);
  const Split none = split_rows(dataset, all_rows(dataset), 0.0, rng);
  CHECK(none.held_out.empty());
  CHECK(none.train.size() == 2);
}

TEST_CASE("split: deterministic for a given Rng, different for another; shuffled within") {
  const Dataset dataset = classes_dataset({40, 40});
  const auto rows = all_rows(dataset);
  Rng a(11), b(11), c(12);
  const Split first = split_rows(dataset, rows, 0.25, a);
  const Split second = split_rows(dataset, rows, 0.25, b);
  const Split other = split_rows(dataset, rows, 0.25, c);
  CHECK(first.train == second.train);
  CHECK(first.held_out == second.held_out);
  CHECK(first.held_out != other.held_out);
  // Shuffled: neither side comes out grouped by class or sorted by row.
  auto labels_of = [&](const std::vector<Index>& side) {
    std::vector<std::int32_t> labels;
    for (const Index row : side) labels.push_back(dataset.labels[static_cast<std::size_t>(row)]);
    return labels;
  };
  const std::vector<std::int32_t> held_out_labels = labels_of(first.held_out);
  const std::vector<std::int32_t> train_labels = labels_of(first.train);
  CHECK_FALSE(std::is_sorted(held_out_labels.begin(), held_out_labels.end()));
  CHECK_FALSE(std::is_sorted(train_labels.begin(), train_labels.end()));
  CHECK_FALSE(std::is_sorted(first.train.begin(), first.train.end()));
}

TEST_CASE("split: only the given rows take part; regression data is split at random") {
  Dataset regression;
  regression.sample_shape = Shape{1};
  regression.floats.resize(50);
  regression.targets.resize(50);
  regression.target_shape = Shape{1};
  std::vector<Index> rows;
  for (Index i = 10; i < 40; ++i) rows.push_back(i);
  Rng rng(9);
  const Split split = split_rows(regression, rows, 0.1, rng);
  CHECK(split.held_out.size() == 3);
  CHECK(split.train.size() == 27);
  check_partition(split, rows);
}

TEST_CASE("split: per-step labels (text) are split at random, not stratified") {
  Dataset text;
  text.sample_shape = Shape{2};
  text.bytes.resize(20);
  text.labels.resize(20);
  text.labels_per_sample = 2;
  text.class_names = {"a", "b"};
  Rng rng(2);
  std::vector<Index> rows(10);
  std::iota(rows.begin(), rows.end(), Index{0});
  const Split split = split_rows(text, rows, 0.3, rng);
  CHECK(split.held_out.size() == 3);
  check_partition(split, rows);
}
