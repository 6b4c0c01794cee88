// Denormal flushing: on for the thread that asks, and passed on to the pool's workers and to
// run_tasks' threads, so that a chunk computes the same on every thread.
#include <doctest/doctest.h>

#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "core/float_mode.hpp"
#include "core/threads.hpp"

using namespace dlrun;

namespace {

// 1e-30 * 1e-15 is a denormal result (FTZ makes it 0); 1e-40 is a denormal input (DAZ reads it
// as 0). volatile keeps the compiler from folding them.
bool flushes_denormals() {
  volatile float small = 1e-30f, smaller = 1e-15f, denormal = 1e-40f, one = 1.0f;
  const float result = small * smaller;
  const float input = denormal * one;
  CHECK((result == 0.0f) == (input == 0.0f));  // both bits are set together
  return result == 0.0f;
}

// Whether each chunk of a two-chunk parallel loop flushed denormals, and how many threads ran them.
std::pair<std::vector<bool>, std::size_t> chunks_flushing() {
  std::vector<bool> flushed(2);
  std::set<std::thread::id> threads;
  std::mutex mutex;
  parallel_for(2, [&](Index begin, Index end) {
    std::lock_guard lock(mutex);
    threads.insert(std::this_thread::get_id());
    for (Index i = begin; i < end; ++i) flushed[static_cast<std::size_t>(i)] = flushes_denormals();
  });
  return {flushed, threads.size()};
}

}  // namespace

TEST_CASE("float mode: flushing denormals is per thread, and the pool's workers follow the caller") {
  const unsigned before = float_mode();
  const int threads_before = thread_count();
  set_thread_count(2);
  const bool flushed_before = flushes_denormals();
#if defined(__x86_64__)
  CHECK_FALSE(flushed_before);  // the default x86-64 mode keeps denormals
#endif

  flush_denormals_to_zero();
  CHECK(flushes_denormals());
  const auto [on, on_threads] = chunks_flushing();
  CHECK(on_threads == 2);  // chunk 1 ran on the worker
  CHECK(on == std::vector<bool>{true, true});
  std::vector<bool> in_tasks(2);
  run_tasks(2, 2, [&](Index t) { in_tasks[static_cast<std::size_t>(t)] = flushes_denormals(); });
  CHECK(in_tasks == std::vector<bool>{true, true});

  set_float_mode(before);  // and back: the worker follows again
  CHECK(flushes_denormals() == flushed_before);
  const auto [off, off_threads] = chunks_flushing();
  CHECK(off_threads == 2);
  CHECK(off == std::vector<bool>{flushed_before, flushed_before});
  set_thread_count(threads_before);
}
