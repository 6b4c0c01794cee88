// End-to-end: resource attacks (docs/security.md) end in one clear line and the documented exit
// code: an absurd IDX header exits 3 before any large allocation, a config nested
// 100k deep exits 2, and an allocation that fails is "out of memory" with exit 1.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "e2e/e2e_support.hpp"

using namespace dlrun::testing;
namespace fs = std::filesystem;

namespace {

std::string idx_config(const fs::path& images) {
  return "data:\n  train: {format: idx, images: " + images.string() +
         "}\n  target: inputs\nmodel:\n  layers:\n    - {type: flatten}\n    - {type: dense, units: 4}\n"
         "loss: mse\ntrain: {epochs: 1}\n";
}

}  // namespace

TEST_CASE("e2e resource limits: absurd IDX dimensions exit 3; YAML nested 100k deep exits 2") {
  TempDir dir;
  // Four dimensions of 2^32 - 1: the product overflows 64 bits.
  const std::string huge(
      "\x00\x00\x08\x04\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 21);
  const auto images = dir.write("huge-idx3-ubyte", huge);
  auto result = run_dlrun("train " + dir.write("idx.yaml", idx_config(images)).string() + " --out " +
                          (dir / "run").string());
  CHECK(result.exit_code == 3);
  check_one_error_line(result, images.string() + ": IDX images file: truncated data: dimensions");
  CHECK_FALSE(fs::exists(dir / "run"));

  const auto config = dir.write("deep.yaml", "name: deep\ndata: " + std::string(100000, '[') + "\n");
  result = run_dlrun("check " + config.string());
  CHECK(result.exit_code == 2);
  check_one_error_line(result, config.string() + ":2:71: nesting is deeper than 64 levels");
}

TEST_CASE("e2e resource limits: a failed allocation is 'out of memory', exit 1, and no run directory") {
#if defined(__SANITIZE_ADDRESS__)
  MESSAGE("skipped: ASan reserves more address space than the limit this test sets");
#else
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 30);
  // 10^5 x 10^5 weights are 40 GB; under a 2 GB address-space limit the allocation fails.
  std::string yaml = tiny_csv_config(csv);
  const std::string hidden = "    - {type: dense, name: hidden, units: 8, activation: relu}\n";
  yaml.replace(
      yaml.find(hidden), hidden.size(),
      "    - {type: dense, name: wide, units: 100000}\n    - {type: dense, name: wider, units: 100000}\n");
  yaml += "train: {epochs: 1}\n";
  const auto config = dir.write("big.yaml", yaml);
  const auto out = dir / "stderr";
  const std::string command = "ulimit -v 2000000 && '" + std::string(DLRUN_BINARY) + "' train '" +
                              config.string() + "' --threads 1 --out '" + (dir / "run").string() + "' 2>'" +
                              out.string() + "' >/dev/null </dev/null";
  const int status = std::system(("/bin/sh -c \"" + command + "\"").c_str());
  REQUIRE(WIFEXITED(status));
  CommandResult result;
  result.exit_code = WEXITSTATUS(status);
  result.err = read_bytes(out);
  CHECK(result.exit_code == 1);
  check_one_error_line(result, "out of memory");
  CHECK_FALSE(fs::exists(dir / "run"));
#endif
}
