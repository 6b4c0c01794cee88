// A small persistent thread pool for data-parallel loops (im2col over a batch, pooling,
// elementwise work). One process-wide pool, sized by --threads, like OpenBLAS's own; run_tasks
// gives each of its concurrent jobs a pool of its own.
#pragma once

#include <functional>
#include <type_traits>
#include <utility>

#include "core/tensor.hpp"

namespace dlrun {

// A non-owning reference to a callable void(Index, Index): unlike std::function it never
// allocates, so parallel loops in hot paths stay allocation-free. The callable must outlive it.
class RangeFunction {
 public:
  template <typename F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, RangeFunction>)
      RangeFunction(F&& function)  // NOLINT: implicit by design, like std::function_ref
      : object_(const_cast<void*>(static_cast<const void*>(&function))),
        call_([](void* object, Index begin, Index end) {
          (*static_cast<std::remove_reference_t<F>*>(object))(begin, end);
        }) {}
  void operator()(Index begin, Index end) const { call_(object_, begin, end); }

 private:
  void* object_;
  void (*call_)(void*, Index, Index);
};

// Sets the number of threads dlrun uses (0 means all cores); OpenBLAS runs single-threaded inside
// them.
void set_thread_count(int threads);
int thread_count();
// The threads that run the caller's parallel loops: thread_count(), or inside a run_tasks job its
// share of them, or 1 inside a parallel loop.
int running_threads();

// Calls body(begin, end) over a partition of [0, count) into min(thread_count(), count / min_chunk)
// contiguous chunks and waits for all of them. The chunks follow thread_count() also inside a
// run_tasks job, whose smaller pool runs several chunks per thread, so results do not depend on the
// pool. Runs body(0, count) on the caller instead when that is one chunk, when the pool has one
// thread, from inside a worker (no nesting), or when another thread is using the pool.
// Exceptions thrown by body are rethrown in the caller (the first one).
void parallel_for(Index count, RangeFunction body, Index min_chunk = 1);

// Runs task(i) for every i in [0, count), on min(jobs, count) threads of their own that take the
// indices in order (jobs <= 1: on the caller, one after another). The threads are divided: each
// job runs its parallel loops on a pool of its own with thread_count() / min(jobs, count) threads
// (at least one), so concurrent tasks (cv folds, search trials) never contend for one pool.
// thread_count() still reports the configured count, so the work splits that depend on it (GEMM
// blocks, parallel_for chunks, conv2d sample ranges) are the same as with jobs = 1 and so are the
// results, whichever thread runs a chunk. After a task throws no new task starts; the first
// exception is rethrown once all threads have ended.
void run_tasks(Index count, int jobs, const std::function<void(Index)>& task);

}  // namespace dlrun
