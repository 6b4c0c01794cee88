// Configs that crashed fuzz_config (docs/security.md), replayed as the harness runs them: each
// loads, and the config.yaml written for it (to_yaml of the resolved tree) loads again to the same
// text. The inputs are committed as the fuzzer wrote them.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/emit.hpp"
#include "config/parse_config.hpp"
#include "config/yaml_loader.hpp"
#include "support/fixtures.hpp"

using namespace dlrun;
using dlrun::testing::test_data_path;

TEST_CASE("fuzz regressions: configs whose written config.yaml did not load again now round-trip") {
  const auto folder = test_data_path("files/fuzz_regressions/config");
  int replayed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    CAPTURE(entry.path().string());
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    const Config config = config_from_tree(parse_yaml(text.str(), entry.path().string()), entry.path());
    const std::string written = to_yaml(config.tree);
    const Config again = config_from_tree(parse_yaml(written, "config.yaml"), entry.path());
    CHECK(to_yaml(again.tree) == written);
    ++replayed;
  }
  CHECK(replayed >= 1);
}
