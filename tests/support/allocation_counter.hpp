// Counts heap allocations made through operator new (every thread) while a counting scope is open.
// The test binary replaces the global operator new to feed it (allocation_counter.cpp); outside a
// scope the replacement only pays one relaxed atomic load.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dlrun::testing {

// Opens counting from zero; allocations_counted() reads the count; stop_counting() closes it.
void start_counting_allocations();
void stop_counting_allocations();
std::size_t allocations_counted();
std::size_t bytes_counted();
std::size_t largest_allocation_counted();  // bytes
// Those through the aligned forms of operator new: tensor storage (core/tensor.hpp) and nothing
// else in dlrun.
std::size_t aligned_allocations_counted();
// The highest net growth of the heap (bytes allocated minus bytes freed, as malloc_usable_size
// counts them) since counting started: a scope's peak memory.
std::int64_t peak_bytes_counted();

}  // namespace dlrun::testing
