#include "train/reproducibility.hpp"

#include <cstdlib>

#include "core/blas.hpp"
#include "core/packed_gemm.hpp"
#include "core/threads.hpp"

namespace dlrun {
namespace {

std::string shown(const nlohmann::json& value) {
  if (value.is_null()) return "unset";
  return value.is_string() ? value.get<std::string>() : value.dump();
}

}  // namespace

nlohmann::json numerics_provenance() {
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  return {{"threads", thread_count()},
          {"blas_core", blas_core_name()},
          {"openblas_coretype", coretype ? nlohmann::json(coretype) : nlohmann::json()}};
}

std::optional<std::string> numerics_differ(const nlohmann::json& recorded,
                                           const std::filesystem::path& checkpoint) {
  if (!recorded.is_object()) return std::nullopt;
  const nlohmann::json now = numerics_provenance();
  std::string differences;
  std::string remedy;
  auto compare = [&](const char* key, const std::string& label) {
    const auto it = recorded.find(key);
    if (it == recorded.end() || *it == now[key]) return false;
    differences +=
        (differences.empty() ? "" : ", ") + label + " " + shown(*it) + " (now " + shown(now[key]) + ")";
    return true;
  };
  if (compare("threads", "threads")) remedy += "--threads " + shown(recorded["threads"]);
  // The core name, not the variable, decides the kernels (the variable may name the default one).
  if (compare("blas_core", "GEMM kernels")) {
    const std::string core = shown(recorded["blas_core"]);
    std::string match;
    if (core == kPackedGemmCoreName) {
      match = "DLRUN_GEMM unset on a CPU with AVX-512F";
    } else {  // OpenBLAS's kernels: here only where dlrun's own are not chosen
      match = std::string(packed_gemm_available() ? "DLRUN_GEMM=openblas and " : "") +
              "OPENBLAS_CORETYPE=" + core;
    }
    remedy += (remedy.empty() ? "" : " and ") + match;
  }
  if (differences.empty()) return std::nullopt;
  return checkpoint.string() + ": written under " + differences +
         ": results are bit-reproducible only per thread count and GEMM kernels, so this "
         "resumed run will not match an uninterrupted one bit for bit (resume with " +
         remedy + " to match)";
}

}  // namespace dlrun
