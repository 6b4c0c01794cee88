#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/random.hpp"

using namespace dlrun;

TEST_CASE("rng: same seed, same sequence; state round-trips") {
  Rng a(42), b(42);
  for (int i = 0; i < 10; ++i) CHECK(a.next_u64() == b.next_u64());
  const Rng::State saved = a.state();
  const auto next = a.next_u64();
  a.set_state(saved);
  CHECK(a.next_u64() == next);
  CHECK(Rng(1).next_u64() != Rng(2).next_u64());
  CHECK(Rng::for_stream(42, "init").next_u64() != Rng::for_stream(42, "shuffle").next_u64());
}

TEST_CASE("rng: uniform and normal have the right moments; shuffle is a permutation") {
  Rng rng(7);
  double sum = 0, sum_sq = 0, usum = 0, umin = 1, umax = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double x = rng.normal();
    sum += x;
    sum_sq += x * x;
    const double u = rng.uniform();
    umin = std::min(umin, u);
    umax = std::max(umax, u);
    usum += u;
  }
  CHECK(umin >= 0.0);
  CHECK(umax < 1.0);
  CHECK(std::abs(sum / n) < 0.01);
  CHECK(std::abs(sum_sq / n - 1.0) < 0.02);
  CHECK(std::abs(usum / n - 0.5) < 0.01);
  std::vector<Index> values(100);
  std::iota(values.begin(), values.end(), 0);
  rng.shuffle(values);
  std::vector<Index> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  for (Index i = 0; i < 100; ++i) CHECK(sorted[static_cast<std::size_t>(i)] == i);
  CHECK_FALSE(std::is_sorted(values.begin(), values.end()));
}
