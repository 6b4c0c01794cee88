// A config file (plus `--set` overrides) -> the validated Config (DESIGN.md §3).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace dlrun {

// Validates `tree` (a loaded config with any overrides applied) and fills in the defaults.
// `file` is the config file: its stem is the default name and its folder the base of relative
// data paths. Unknown keys, wrong types, values out of range and duplicate layer names are
// ConfigErrors at the offending key's file:line:col. Layer, loss, optimizer and schedule
// options are kept as Nodes for their registries to validate, type names included.
// Config.tree is `tree` with the name and seed filled in and data paths made absolute, so that
// writing it out (to_yaml) gives a config that reproduces the run from any folder.
Config config_from_tree(Node tree, const std::filesystem::path& file);

// Loads `file`, applies each override ("PATH=VALUE", as `--set` gives them) in order and
// validates. Throws ConfigError.
Config load_config(const std::filesystem::path& file, const std::vector<std::string>& overrides);

}  // namespace dlrun
