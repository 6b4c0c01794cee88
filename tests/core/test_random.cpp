#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

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

// Checkpoints store the RNG state and runs must reproduce on every platform: the sequences are
// fixed by the published algorithms (splitmix64 seeding, xoshiro256**, rejection of the biased
// tail in below(), Fisher-Yates from the top), checked here against values from an independent
// Python implementation of them, not by whatever the standard library does.
TEST_CASE("rng: sequences are those of the algorithms, the same on every platform") {
  Rng rng(42);
  CHECK(rng.next_u64() == 0x15780b2e0c2ec716ull);
  CHECK(rng.next_u64() == 0x6104d9866d113a7eull);
  CHECK(rng.next_u64() == 0xae17533239e499a1ull);
  CHECK(Rng::for_stream(42, "shuffle", 3).next_u64() == 0x92155445f5a3aca9ull);
  Rng shuffler(7);
  std::vector<Index> values(10);
  std::iota(values.begin(), values.end(), 0);
  shuffler.shuffle(values);
  CHECK(values == std::vector<Index>{8, 3, 9, 0, 7, 2, 1, 6, 5, 4});
  Rng uniform(7);
  CHECK(uniform.uniform() == 0.7005764821796896);
  CHECK(uniform.uniform() == 0x1.1d70f6593d20ap-2);
}

// std::shuffle, std::sample and the std:: distributions give different sequences under different
// standard libraries (libstdc++, libc++, MSVC): nothing in the library or the CLI may use them.
TEST_CASE("rng: no std:: shuffle, sample, distribution or engine decides a result") {
  namespace fs = std::filesystem;
  int files = 0;
  for (const char* folder : {"lib", "app"}) {
    for (const auto& entry : fs::recursive_directory_iterator(fs::path(DLRUN_SOURCE_DIR) / folder)) {
      const auto extension = entry.path().extension();
      if (extension != ".cpp" && extension != ".hpp" && extension != ".inc") continue;
      ++files;
      std::ifstream in(entry.path());
      std::stringstream text;
      text << in.rdbuf();
      for (const char* banned : {"std::shuffle", "std::sample", "_distribution", "std::mt19937",
                                 "std::random_device", "std::default_random_engine", "std::minstd_rand"}) {
        CHECK_MESSAGE(text.str().find(banned) == std::string::npos,
                      (entry.path().string() + " uses " + banned));
      }
    }
  }
  CHECK(files > 100);
}
