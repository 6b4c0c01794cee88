// Random operands for kernel tests: `count` floats uniform in [-1, 1), drawn in order from `rng`.
#pragma once

#include <vector>

#include "core/random.hpp"

namespace dlrun::testing {

inline std::vector<float> uniform_values(Index count, Rng& rng) {
  std::vector<float> values(static_cast<std::size_t>(count));
  rng.fill_uniform(values, -1.0f, 1.0f);
  return values;
}

}  // namespace dlrun::testing
