// run_tasks: every task once, exceptions rethrown, and a GEMM big enough to split over the pool
// gives the same bits inside a task (where parallel_for runs inline) as on the caller.
#include <doctest/doctest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "core/blas.hpp"
#include "core/random.hpp"
#include "core/threads.hpp"

using namespace dlrun;

TEST_CASE("run_tasks: runs every index once on any number of jobs, and rethrows a task's error") {
  for (const int jobs : {1, 2, 5}) {
    std::vector<std::atomic<int>> runs(7);
    run_tasks(7, jobs, [&](Index i) { ++runs[static_cast<std::size_t>(i)]; });
    for (const auto& count : runs) CHECK(count.load() == 1);
  }
  CHECK_THROWS_AS(run_tasks(4, 2,
                            [](Index i) {
                              if (i == 1) throw std::runtime_error("task 1");
                            }),
                  std::runtime_error);
}

TEST_CASE("run_tasks: a split GEMM gives the same bits inside a task as on the caller") {
  const int before = thread_count();
  set_thread_count(2);
  const Index m = 256, n = 96, k = 128;  // above the split threshold
  std::vector<float> a(static_cast<std::size_t>(m * k)), b(static_cast<std::size_t>(k * n));
  Rng rng(1);
  rng.fill_normal(a, 0.0f, 1.0f);
  rng.fill_normal(b, 0.0f, 1.0f);
  std::vector<float> outside(static_cast<std::size_t>(m * n));
  gemm(Transpose::no, Transpose::no, m, n, k, 1.0f, a, b, 0.0f, outside);
  std::vector<std::vector<float>> inside(2, std::vector<float>(static_cast<std::size_t>(m * n)));
  run_tasks(2, 2, [&](Index t) {
    gemm(Transpose::no, Transpose::no, m, n, k, 1.0f, a, b, 0.0f, inside[static_cast<std::size_t>(t)]);
  });
  CHECK(inside[0] == outside);
  CHECK(inside[1] == outside);
  set_thread_count(before);
}
