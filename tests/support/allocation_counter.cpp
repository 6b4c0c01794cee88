// Replaces the global operator new and delete of the test binary (all of their forms) with malloc,
// aligned_alloc and free, counting while start_counting_allocations() is in force. libstdc++'s own
// operators call the same functions, so memory from either side may be freed by the other.
#include "support/allocation_counter.hpp"

#include <execinfo.h>
#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <new>

namespace dlrun::testing {
namespace {

std::atomic<bool> counting{false};
std::atomic<std::size_t> allocations{0};
std::atomic<std::size_t> bytes{0};
std::atomic<std::size_t> largest{0};
std::atomic<std::size_t> aligned{0};
// Live bytes (malloc_usable_size) allocated minus freed since counting started, and their highest
// value: the heap's peak growth over the scope.
std::atomic<std::int64_t> live{0};
std::atomic<std::int64_t> peak_live{0};
// DLRUN_TRACE_ALLOCATIONS=1 prints the call stack of every counted allocation to stderr (addresses
// for addr2line -f -C -e <binary>): where a failing no-allocation test's allocations come from.
const bool tracing = std::getenv("DLRUN_TRACE_ALLOCATIONS") != nullptr;
thread_local bool inside_trace = false;

void trace() {
  if (inside_trace) return;  // backtrace() may allocate the first time
  inside_trace = true;
  void* frames[24];
  const int depth = backtrace(frames, 24);
  const char line[] = "-- allocation:\n";
  (void)!write(STDERR_FILENO, line, sizeof line - 1);
  backtrace_symbols_fd(frames, depth, STDERR_FILENO);
  inside_trace = false;
}

void note(std::size_t size) {
  if (counting.load(std::memory_order_relaxed)) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    bytes.fetch_add(size, std::memory_order_relaxed);
    std::size_t seen = largest.load(std::memory_order_relaxed);
    while (size > seen && !largest.compare_exchange_weak(seen, size, std::memory_order_relaxed)) {
    }
    if (tracing) trace();
  }
}

void note_live(void* p, bool allocated) {
  if (p == nullptr || !counting.load(std::memory_order_relaxed)) return;
  const auto usable = static_cast<std::int64_t>(malloc_usable_size(p));
  if (!allocated) {
    live.fetch_sub(usable, std::memory_order_relaxed);
    return;
  }
  const std::int64_t now = live.fetch_add(usable, std::memory_order_relaxed) + usable;
  std::int64_t seen = peak_live.load(std::memory_order_relaxed);
  while (now > seen && !peak_live.compare_exchange_weak(seen, now, std::memory_order_relaxed)) {
  }
}

void* allocate(std::size_t size) {
  note(size);
  if (void* p = std::malloc(size == 0 ? 1 : size)) {
    note_live(p, true);
    return p;
  }
  throw std::bad_alloc();
}

void* allocate_aligned(std::size_t size, std::align_val_t alignment) {
  note(size);
  if (counting.load(std::memory_order_relaxed)) aligned.fetch_add(1, std::memory_order_relaxed);
  const auto align = static_cast<std::size_t>(alignment);
  // aligned_alloc wants a size that is a multiple of the alignment.
  const std::size_t rounded = (size + align - 1) / align * align;
  if (void* p = std::aligned_alloc(align, rounded == 0 ? align : rounded)) {
    note_live(p, true);
    return p;
  }
  throw std::bad_alloc();
}

void release(void* p) {
  note_live(p, false);
  std::free(p);
}

}  // namespace

void start_counting_allocations() {
  allocations.store(0);
  bytes.store(0);
  largest.store(0);
  aligned.store(0);
  live.store(0);
  peak_live.store(0);
  counting.store(true);
}

void stop_counting_allocations() {
  counting.store(false);
}
std::size_t allocations_counted() {
  return allocations.load();
}
std::size_t bytes_counted() {
  return bytes.load();
}
std::size_t largest_allocation_counted() {
  return largest.load();
}
std::size_t aligned_allocations_counted() {
  return aligned.load();
}
std::int64_t peak_bytes_counted() {
  return peak_live.load();
}

}  // namespace dlrun::testing

using dlrun::testing::allocate;
using dlrun::testing::allocate_aligned;
using dlrun::testing::release;

void* operator new(std::size_t size) {
  return allocate(size);
}
void* operator new[](std::size_t size) {
  return allocate(size);
}
void* operator new(std::size_t size, std::align_val_t alignment) {
  return allocate_aligned(size, alignment);
}
void* operator new[](std::size_t size, std::align_val_t alignment) {
  return allocate_aligned(size, alignment);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return allocate(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return allocate(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new(std::size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept {
  try {
    return allocate_aligned(size, alignment);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept {
  try {
    return allocate_aligned(size, alignment);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept {
  release(p);
}
void operator delete[](void* p) noexcept {
  release(p);
}
void operator delete(void* p, std::size_t) noexcept {
  release(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  release(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  release(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  release(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  release(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  release(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  release(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  release(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  release(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  release(p);
}
