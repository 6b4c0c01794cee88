// `--set PATH=VALUE` overrides: each input line is one assignment, applied in order to a small
// valid config, which is then validated (as load_config does).
#include <string>
#include <string_view>

#include "config/overrides.hpp"
#include "config/parse_config.hpp"
#include "config/yaml_loader.hpp"
#include "fuzz_support.hpp"

namespace {

constexpr std::string_view kBase = R"(name: base
data:
  train: {format: csv, path: train.csv, label: y, features: [x1, x2]}
  validation: 0.2
model:
  layers:
    - {type: dense, name: hidden, units: 8, activation: tanh}
    - {type: dense, units: 1, activation: sigmoid}
loss: binary_cross_entropy
optimizer: {type: adam, lr: 0.05}
train: {epochs: 3, batch_size: 4}
search:
  space:
    optimizer.lr: {loguniform: [0.0001, 0.1]}
)";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const dlrun::Node base = dlrun::parse_yaml(kBase, "base.yaml");
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  dlrun::fuzz::expect_only_dlrun_errors([&] {
    dlrun::Node tree = base;
    std::size_t start = 0;
    while (start <= input.size()) {
      std::size_t end = input.find('\n', start);
      if (end == std::string_view::npos) end = input.size();
      const std::string assignment(input.substr(start, end - start));
      dlrun::apply_override(tree, assignment, "--set " + assignment);
      start = end + 1;
    }
    dlrun::config_from_tree(std::move(tree), "/fuzz/base.yaml");
  });
  return 0;
}
