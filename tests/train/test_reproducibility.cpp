// The determinism contract's bookkeeping: what a checkpoint records about the numerics, and the
// warning for a resume under another thread count or other GEMM kernels.
#include <doctest/doctest.h>

#include "core/blas.hpp"
#include "core/packed_gemm.hpp"
#include "core/threads.hpp"
#include "support/messages.hpp"
#include "train/reproducibility.hpp"

using namespace dlrun;
using testing::contains;

TEST_CASE("reproducibility: the provenance names the thread count and the GEMM kernels") {
  const nlohmann::json now = numerics_provenance();
  CHECK(now["threads"] == thread_count());
  CHECK(now["blas_core"] == blas_core_name());
  CHECK_FALSE(blas_core_name().empty());
  CHECK((blas_core_name() == kPackedGemmCoreName) == (gemm_kernel() == GemmKernel::packed));
  CHECK(now.contains("openblas_coretype"));
  CHECK_FALSE(numerics_differ(now, "c.safetensors").has_value());
}

TEST_CASE("reproducibility: a resume under other threads or another core is named, with the remedy") {
  nlohmann::json recorded = numerics_provenance();
  const int threads = thread_count();
  recorded["threads"] = threads + 1;
  auto warning = numerics_differ(recorded, "run/checkpoints/last.safetensors");
  REQUIRE(warning.has_value());
  CHECK(warning->starts_with("run/checkpoints/last.safetensors: written under threads " +
                             std::to_string(threads + 1) + " (now " + std::to_string(threads) + ")"));
  CHECK(contains(*warning, "(resume with --threads " + std::to_string(threads + 1) + " to match)"));
  CHECK_FALSE(contains(*warning, "OPENBLAS_CORETYPE="));

  recorded["blas_core"] = "Elsewhere";
  warning = numerics_differ(recorded, "c.safetensors");
  REQUIRE(warning.has_value());
  CHECK(contains(*warning, "GEMM kernels Elsewhere (now " + blas_core_name() + ")"));
  // OpenBLAS's kernels run here only with DLRUN_GEMM=openblas where dlrun's own are available.
  const std::string openblas = packed_gemm_available() ? "DLRUN_GEMM=openblas and " : "";
  CHECK(contains(*warning, "--threads " + std::to_string(threads + 1) + " and " + openblas +
                               "OPENBLAS_CORETYPE=Elsewhere"));

  // Written by dlrun's packed kernel, resumed under OpenBLAS's (or the reverse, where it runs).
  recorded = numerics_provenance();
  recorded["blas_core"] = gemm_kernel() == GemmKernel::packed ? "Haswell" : kPackedGemmCoreName;
  warning = numerics_differ(recorded, "c.safetensors");
  REQUIRE(warning.has_value());
  CHECK(contains(*warning, gemm_kernel() == GemmKernel::packed
                               ? "(resume with DLRUN_GEMM=openblas and OPENBLAS_CORETYPE=Haswell to match)"
                               : "(resume with DLRUN_GEMM unset on a CPU with AVX-512F to match)"));

  // The variable alone decides nothing (the core it leads to does); older checkpoints lack fields.
  recorded = numerics_provenance();
  recorded["openblas_coretype"] = "SomethingElse";
  CHECK_FALSE(numerics_differ(recorded, "c.safetensors").has_value());
  CHECK_FALSE(numerics_differ(nlohmann::json{{"version", "0.0.1"}}, "c.safetensors").has_value());
  CHECK_FALSE(numerics_differ(nlohmann::json(), "c.safetensors").has_value());
}
