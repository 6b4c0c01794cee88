// A small persistent thread pool for data-parallel loops (im2col over a batch, pooling,
// elementwise work). One process-wide pool, sized by --threads, like OpenBLAS's own.
#pragma once

#include <functional>

#include "core/tensor.hpp"

namespace dlrun {

// Sets the number of threads dlrun uses: its own pool and OpenBLAS's. 0 means all cores.
void set_thread_count(int threads);
int thread_count();

// Calls body(begin, end) over a partition of [0, count) into at most thread_count() contiguous
// chunks, one per worker, and waits for all of them. Runs inline when count < min_chunk * 2 or
// when only one thread is configured. Calls from inside a worker run inline (no nesting).
// Exceptions thrown by body are rethrown in the caller (the first one).
void parallel_for(Index count, const std::function<void(Index begin, Index end)>& body, Index min_chunk = 1);

}  // namespace dlrun
