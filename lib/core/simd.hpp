// DLRUN_SIMD_CLONES: compiles a hot element-wise function twice, for plain x86-64 (SSE2) and for
// AVX2, and picks one at load time by the CPU (GCC/Clang function multi-versioning through ifunc).
// The binary still runs on any x86-64, and loops that GCC vectorises get 8 lanes where the CPU has
// them: the Adam update ran 2x faster (0.27 against 0.54 ms for 695k parameters). Only AVX2, not
// FMA: fused multiply-adds would round differently from the plain build, and results must not
// depend on the machine.
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__AVX2__)
#define DLRUN_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define DLRUN_SIMD_CLONES
#endif
