// Config loader: YAML text -> validated Config (parse_yaml, config_from_tree). A config that
// validates must also survive its own round trip: to_yaml(config.tree) is what a run directory's
// config.yaml holds, and it must load again to the same tree.
#include <cstdlib>
#include <string_view>

#include "config/emit.hpp"
#include "config/parse_config.hpp"
#include "config/yaml_loader.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string written;
  dlrun::fuzz::expect_only_dlrun_errors([&] {
    const dlrun::Config config =
        dlrun::config_from_tree(dlrun::parse_yaml(text, "fuzz.yaml"), "/fuzz/fuzz.yaml");
    written = dlrun::to_yaml(config.tree);
  });
  if (written.empty()) return 0;
  // Outside the catch: a config.yaml that no longer loads is a bug, not a rejection.
  const dlrun::Config again =
      dlrun::config_from_tree(dlrun::parse_yaml(written, "config.yaml"), "/fuzz/fuzz.yaml");
  if (dlrun::to_yaml(again.tree) != written) std::abort();
  return 0;
}
