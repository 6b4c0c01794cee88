// run_tasks: every task once, exceptions rethrown, the threads divided among the jobs, and a GEMM
// big enough to split over the pool gives the same bits inside a task as on the caller.
#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "core/blas.hpp"
#include "core/random.hpp"
#include "core/threads.hpp"

using namespace dlrun;

namespace {

// A GEMM big enough to split over the threads (256 x 96 x 128, above the split threshold) of
// matrices drawn with `seed`, run in each of two run_tasks jobs, gives the bits of one on the caller.
void check_gemm_in_two_jobs_as_on_caller(std::uint64_t seed) {
  const Index m = 256, n = 96, k = 128;
  std::vector<float> a(static_cast<std::size_t>(m * k)), b(static_cast<std::size_t>(k * n));
  Rng rng(seed);
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
}

}  // namespace

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
  check_gemm_in_two_jobs_as_on_caller(1);
  set_thread_count(before);
}

TEST_CASE("run_tasks: jobs divide the threads; a job's loops keep the splits of all the threads") {
  const int before = thread_count();
  set_thread_count(4);
  std::mutex mutex;
  std::vector<int> running(2);
  std::vector<std::set<std::thread::id>> threads(2);
  std::vector<std::set<std::pair<Index, Index>>> chunks(2);
  run_tasks(2, 2, [&](Index t) {
    const auto job = static_cast<std::size_t>(t);
    running[job] = running_threads();
    parallel_for(8, [&](Index begin, Index end) {
      std::lock_guard lock(mutex);
      threads[job].insert(std::this_thread::get_id());
      chunks[job].insert({begin, end});
    });
  });
  const std::set<std::pair<Index, Index>> four_chunks = {{0, 2}, {2, 4}, {4, 6}, {6, 8}};
  for (std::size_t job = 0; job < 2; ++job) {
    CHECK(running[job] == 2);           // 4 threads / 2 jobs
    CHECK(threads[job].size() == 2);    // the job's own two threads ran its loop
    CHECK(chunks[job] == four_chunks);  // split as 4 threads split it
  }
  // More jobs than threads: one thread each, loops inline.
  std::vector<int> many(4);
  run_tasks(4, 4, [&](Index t) { many[static_cast<std::size_t>(t)] = running_threads(); });
  CHECK(many == std::vector<int>{1, 1, 1, 1});
  CHECK(running_threads() == 4);
  // A GEMM inside a 2-thread job gives the bits of one on the 4-thread pool.
  check_gemm_in_two_jobs_as_on_caller(3);
  set_thread_count(before);
}
