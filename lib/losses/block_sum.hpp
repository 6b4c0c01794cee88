// Deterministic parallel reduction for the losses: the terms are summed in fixed blocks (in
// parallel when it pays) and the block sums are added in order, so the loss is bit-identical for
// every thread count.
#pragma once

#include <algorithm>
#include <vector>

#include "core/tensor.hpp"
#include "core/threads.hpp"

namespace dlrun::detail {

// block_sum(begin, end) returns the sum of the terms in [begin, end) (and may write gradients for
// them). `units` are rows or elements; `block` of them make one block; `min_units_parallel` is the
// size below which everything runs inline. `block_sums` is the caller's reusable buffer.
template <typename BlockSum>
double sum_in_blocks(Index units, Index block, Index min_units_parallel, std::vector<double>& block_sums,
                     const BlockSum& block_sum) {
  const Index blocks = (units + block - 1) / block;
  block_sums.resize(static_cast<std::size_t>(blocks));  // keeps capacity: no allocation per batch
  auto run = [&](Index first, Index last) {
    for (Index b = first; b < last; ++b) {
      block_sums[static_cast<std::size_t>(b)] = block_sum(b * block, std::min(units, (b + 1) * block));
    }
  };
  if (units < min_units_parallel || blocks < 2) {
    run(0, blocks);
  } else {
    parallel_for(blocks, [&run](Index first, Index last) { run(first, last); });
  }
  double total = 0.0;
  for (const double sum : block_sums) total += sum;
  return total;
}

}  // namespace dlrun::detail
