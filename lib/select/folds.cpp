#include "select/folds.hpp"

#include <algorithm>
#include <string>

#include "core/errors.hpp"
#include "core/random.hpp"

namespace dlrun {
namespace {

bool stratifies(const Dataset& dataset, const CvConfig& cv) {
  return cv.stratified && dataset.is_classification() && dataset.labels_per_sample == 1;
}

// The rows grouped by class (absent classes dropped), each group in the order of `rows`.
std::vector<std::vector<Index>> rows_by_class(const Dataset& dataset, std::span<const Index> rows,
                                              std::vector<std::size_t>& class_of_group) {
  std::vector<std::vector<Index>> groups = rows_by_label(dataset, rows);
  std::vector<std::vector<Index>> present;
  for (std::size_t label = 0; label < groups.size(); ++label) {
    if (groups[label].empty()) continue;
    present.push_back(std::move(groups[label]));
    class_of_group.push_back(label);
  }
  return present;
}

std::string class_name(const Dataset& dataset, std::size_t label) {
  return label < dataset.class_names.size() ? dataset.class_names[label] : std::to_string(label);
}

}  // namespace

std::vector<std::vector<Index>> assign_folds(const Dataset& dataset, std::span<const Index> rows,
                                             const CvConfig& cv, std::uint64_t seed) {
  if (cv.folds < 2) throw ConfigError("cv.folds must be at least 2, got " + std::to_string(cv.folds));
  if (cv.repeats < 1) throw ConfigError("cv.repeats must be at least 1, got " + std::to_string(cv.repeats));
  const auto n = static_cast<Index>(rows.size());
  if (n < cv.folds) {
    throw DataError(dataset.source + ": " + std::to_string(n) + " rows cannot make " +
                    std::to_string(cv.folds) + " folds; lower cv.folds (--folds)");
  }
  // Position of each row of `rows`, to write assignments in the caller's order.
  std::vector<std::pair<Index, Index>> position;  // (row, index in rows), sorted by row
  position.reserve(rows.size());
  for (Index i = 0; i < n; ++i) position.emplace_back(rows[static_cast<std::size_t>(i)], i);
  std::sort(position.begin(), position.end());
  auto index_of = [&](Index row) {
    const auto it = std::lower_bound(position.begin(), position.end(), std::pair<Index, Index>{row, 0});
    return it->second;
  };

  const bool stratified = stratifies(dataset, cv);
  std::vector<std::size_t> class_of_group;
  std::vector<std::vector<Index>> groups;
  if (stratified) {
    groups = rows_by_class(dataset, rows, class_of_group);
    for (std::size_t g = 0; g < groups.size(); ++g) {
      if (static_cast<Index>(groups[g].size()) < cv.folds) {
        throw DataError(dataset.source + ": class '" + class_name(dataset, class_of_group[g]) + "' has " +
                        std::to_string(groups[g].size()) + " rows, fewer than the " +
                        std::to_string(cv.folds) +
                        " stratified folds; lower cv.folds (--folds) or set cv.stratified: false");
      }
    }
  }

  std::vector<std::vector<Index>> assignments;
  for (Index repeat = 0; repeat < cv.repeats; ++repeat) {
    Rng rng = Rng::for_stream(seed, "folds", static_cast<std::uint64_t>(repeat));
    std::vector<Index> fold_of(rows.size());
    if (stratified) {
      Index dealt = 0;  // continues across classes, so fold sizes stay within one of each other
      for (std::vector<Index> group : groups) {
        if (cv.shuffle) rng.shuffle(group);
        for (const Index row : group) fold_of[static_cast<std::size_t>(index_of(row))] = dealt++ % cv.folds;
      }
    } else {
      std::vector<Index> order(rows.begin(), rows.end());
      if (cv.shuffle) rng.shuffle(order);
      for (Index i = 0; i < n; ++i) {
        // Contiguous runs: fold f holds positions [n*f/k, n*(f+1)/k).
        fold_of[static_cast<std::size_t>(index_of(order[static_cast<std::size_t>(i)]))] = (i * cv.folds) / n;
      }
    }
    assignments.push_back(std::move(fold_of));
  }
  return assignments;
}

std::vector<Fold> make_folds(const Dataset& dataset, std::span<const Index> rows, const CvConfig& cv,
                             std::uint64_t seed) {
  const auto assignments = assign_folds(dataset, rows, cv, seed);
  std::vector<Fold> folds;
  for (Index repeat = 0; repeat < cv.repeats; ++repeat) {
    const auto& fold_of = assignments[static_cast<std::size_t>(repeat)];
    for (Index f = 0; f < cv.folds; ++f) {
      Fold fold;
      fold.repeat = repeat;
      fold.fold = f;
      for (std::size_t i = 0; i < rows.size(); ++i)
        (fold_of[i] == f ? fold.held_out : fold.train).push_back(rows[i]);
      folds.push_back(std::move(fold));
    }
  }
  return folds;
}

}  // namespace dlrun
