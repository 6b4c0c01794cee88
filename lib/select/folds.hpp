// K-fold assignments for cross-validation (DESIGN.md §3 `cv:`): stratified by class for
// classification unless turned off, shuffled from the seed, repeated with fresh shuffles.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "config/config.hpp"
#include "data/dataset.hpp"

namespace dlrun {

struct Fold {
  Index repeat = 0;             // 0-based
  Index fold = 0;               // 0-based
  std::vector<Index> train;     // the other folds' rows
  std::vector<Index> held_out;  // this fold's rows
};

// For each repeat, the fold (0 .. folds-1) of each of `rows`, in the order of `rows`.
//   Stratified (cv.stratified and one class label per example): each class's rows, shuffled, are
//   dealt in turn onto the folds, continuing where the previous class stopped, so fold sizes
//   differ by at most one and so do a class's counts in any two folds. Otherwise the shuffled rows
//   are cut into `folds` contiguous runs of sizes differing by at most one. Shuffles draw from
//   Rng::for_stream(seed, "folds", repeat); cv.shuffle false keeps the rows' order.
// Throws DataError (naming dataset.source) when there are fewer rows than folds or, stratified,
// when a class has fewer rows than folds; ConfigError for folds < 2 or repeats < 1.
std::vector<std::vector<Index>> assign_folds(const Dataset& dataset, std::span<const Index> rows,
                                             const CvConfig& cv, std::uint64_t seed);

// Every (repeat, fold) of assign_folds as training and held-out rows (each in the order of `rows`).
std::vector<Fold> make_folds(const Dataset& dataset, std::span<const Index> rows, const CvConfig& cv,
                             std::uint64_t seed);

}  // namespace dlrun
