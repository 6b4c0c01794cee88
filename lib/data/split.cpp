// split_rows: the hold-out split (validation from train), stratified by class when there are labels.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/errors.hpp"
#include "data/dataset.hpp"

namespace dlrun {
namespace {

// How many rows to hold out: round(fraction * n), at least 1 when fraction > 0 and n >= 2, and
// never all of them, so that both sides are usable.
Index held_out_count(Index n, double fraction) {
  if (fraction <= 0.0 || n < 2) return 0;
  const auto count = static_cast<Index>(std::llround(fraction * static_cast<double>(n)));
  return std::clamp<Index>(count, 1, n - 1);
}

// Splits `total` over groups in proportion to their sizes (largest remainder; ties go to the lower
// group index, so the result is deterministic).
std::vector<Index> proportional_counts(const std::vector<std::vector<Index>>& groups, Index n, Index total) {
  std::vector<Index> counts(groups.size());
  std::vector<std::pair<double, std::size_t>> remainders;
  Index assigned = 0;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const double exact =
        static_cast<double>(total) * static_cast<double>(groups[g].size()) / static_cast<double>(n);
    counts[g] = static_cast<Index>(std::floor(exact));
    assigned += counts[g];
    remainders.emplace_back(exact - static_cast<double>(counts[g]), g);
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::size_t i = 0; assigned < total; ++i, ++assigned) ++counts[remainders[i].second];
  return counts;
}

}  // namespace

std::vector<std::vector<Index>> rows_by_label(const Dataset& dataset, std::span<const Index> rows) {
  std::vector<std::vector<Index>> groups(dataset.class_names.size());
  for (const Index row : rows) {
    require(row >= 0 && row < dataset.size(), "rows_by_label: row out of range");
    const auto label = static_cast<std::size_t>(dataset.labels[static_cast<std::size_t>(row)]);
    if (label >= groups.size()) groups.resize(label + 1);
    groups[label].push_back(row);
  }
  return groups;
}

Split split_rows(const Dataset& dataset, std::span<const Index> rows, double fraction, Rng& rng) {
  const Index n = static_cast<Index>(rows.size());
  const Index total = held_out_count(n, fraction);
  Split split;
  if (dataset.time_series) {
    std::vector<Index> ordered(rows.begin(), rows.end());
    std::sort(ordered.begin(), ordered.end());
    const auto cut = ordered.end() - static_cast<std::ptrdiff_t>(total);
    split.train.assign(ordered.begin(), cut);
    split.held_out.assign(cut, ordered.end());
    return split;
  }
  // Stratify only when each example has one class label (not for per-step text labels).
  if (dataset.is_classification() && dataset.labels_per_sample == 1) {
    std::vector<std::vector<Index>> groups = rows_by_label(dataset, rows);
    const std::vector<Index> counts = proportional_counts(groups, n, total);
    for (std::size_t g = 0; g < groups.size(); ++g) {
      rng.shuffle(groups[g]);
      const auto cut = groups[g].begin() + static_cast<std::ptrdiff_t>(counts[g]);
      split.held_out.insert(split.held_out.end(), groups[g].begin(), cut);
      split.train.insert(split.train.end(), cut, groups[g].end());
    }
  } else {
    std::vector<Index> shuffled(rows.begin(), rows.end());
    rng.shuffle(shuffled);
    split.held_out.assign(shuffled.begin(), shuffled.begin() + static_cast<std::ptrdiff_t>(total));
    split.train.assign(shuffled.begin() + static_cast<std::ptrdiff_t>(total), shuffled.end());
  }
  rng.shuffle(split.train);  // no class-sorted order leaks out of the split
  rng.shuffle(split.held_out);
  return split;
}

}  // namespace dlrun
