// The byte count an array header (IDX, NPY) claims: the product of its dimensions times the item
// size, computed without overflow. A header is untrusted; a product that wraps around could make a
// lying header look consistent with the file's size.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "core/tensor.hpp"

namespace dlrun {

// dims[0] * dims[1] * ... * item_size, or nullopt when it exceeds 2^63 - 1 (so that it also fits
// an Index). Dimensions must be non-negative; a zero dimension gives 0 whatever the others are.
inline std::optional<std::uint64_t> array_bytes(const std::vector<Index>& dims, std::uint64_t item_size) {
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<Index>::max());
  for (const Index d : dims) {
    if (d == 0) return 0;
  }
  std::uint64_t bytes = item_size;
  for (const Index d : dims) {
    const auto dim = static_cast<std::uint64_t>(d);
    if (bytes > kMax / dim) return std::nullopt;
    bytes *= dim;
  }
  return bytes;
}

}  // namespace dlrun
