// The determinism contract (docs/checkpoints.md): with the same config, seed and data, dlrun's
// results are identical bit for bit at a fixed thread count and GEMM kernel set, but not across
// them (dlrun's packed AVX-512 GEMM and OpenBLAS's round differently; with OpenBLAS 0.3.21, dlrun's
// GEMM blocks follow the thread count, another OPENBLAS_CORETYPE changes sgemm's bits even on one
// thread, and convolutions sum per-thread weight gradients). Every checkpoint records both in its
// provenance, and a resume under others is allowed but warned about: it continues correctly, only
// not bit-identically to a run that was never interrupted.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace dlrun {

// {"threads": thread_count(), "blas_core": blas_core_name(), "openblas_coretype": the environment
// variable's value, or null when unset}: this process's, for a checkpoint's provenance.
nlohmann::json numerics_provenance();

// The warning for resuming from `checkpoint`, whose provenance is `recorded`, under numerics
// other than this process's: one line naming what differs (the thread count, the GEMM kernels'
// name, blas_core_name(); the checkpoint's value, then ours) and how to match it (--threads,
// DLRUN_GEMM, OPENBLAS_CORETYPE); nullopt when they agree. Fields the
// checkpoint lacks (older versions) are not compared; OPENBLAS_CORETYPE is recorded but not
// compared, as the core name it leads to is what decides the kernels.
std::optional<std::string> numerics_differ(const nlohmann::json& recorded,
                                           const std::filesystem::path& checkpoint);

}  // namespace dlrun
