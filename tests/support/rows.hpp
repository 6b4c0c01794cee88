// Every row index of a dataset, in order: the "whole dataset" selection of the data and cv tests.
#pragma once

#include <numeric>
#include <vector>

#include "data/dataset.hpp"

namespace dlrun::testing {

inline std::vector<Index> all_rows(const Dataset& dataset) {
  std::vector<Index> rows(static_cast<std::size_t>(dataset.size()));
  std::iota(rows.begin(), rows.end(), Index{0});
  return rows;
}

}  // namespace dlrun::testing
