// The determinism contract's bookkeeping: what a checkpoint records about the numerics, and the
// warning for a resume under another thread count or OpenBLAS core.
#include <doctest/doctest.h>

#include "core/blas.hpp"
#include "core/threads.hpp"
#include "support/messages.hpp"
#include "train/reproducibility.hpp"

using namespace dlrun;
using testing::contains;

TEST_CASE("reproducibility: the provenance names the thread count and the OpenBLAS core") {
  const nlohmann::json now = numerics_provenance();
  CHECK(now["threads"] == thread_count());
  CHECK(now["blas_core"] == blas_core_name());
  CHECK_FALSE(blas_core_name().empty());
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
  CHECK(contains(*warning, "OpenBLAS core Elsewhere (now " + blas_core_name() + ")"));
  CHECK(contains(*warning, "--threads " + std::to_string(threads + 1) + " and OPENBLAS_CORETYPE=Elsewhere"));

  // The variable alone decides nothing (the core it leads to does); older checkpoints lack fields.
  recorded = numerics_provenance();
  recorded["openblas_coretype"] = "SomethingElse";
  CHECK_FALSE(numerics_differ(recorded, "c.safetensors").has_value());
  CHECK_FALSE(numerics_differ(nlohmann::json{{"version", "0.0.1"}}, "c.safetensors").has_value());
  CHECK_FALSE(numerics_differ(nlohmann::json(), "c.safetensors").has_value());
}
