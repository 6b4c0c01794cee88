// YAML text -> Node tree with file:line:col on every node. The only place that includes
// yaml-cpp is lib/config/*.cpp; everything else sees Nodes.
//
// Config files are untrusted input, so the loader is deliberately stricter than YAML: it rejects
// anchors and aliases (a self-referencing `&a [*a]` and alias bombs), nesting deeper than
// kMaxConfigDepth, duplicate keys, non-string keys, tags, `.nan`/`.inf`, NUL bytes, more than one
// document and files over kMaxConfigBytes. Every rejection is a ConfigError (exit 2).
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/node.hpp"

namespace dlrun {

inline constexpr std::size_t kMaxConfigBytes = std::size_t{1} << 20;  // messages say "1 MiB"
inline constexpr int kMaxConfigDepth = 64;  // nested lists/mappings, the top mapping counting as 1

// Parses a config document; the top level must be a non-empty-file mapping. Locations name
// `file_name` with 1-based line and column. Throws ConfigError.
Node parse_yaml(std::string_view text, const std::string& file_name);

// Parses one YAML value (a scalar, or a flow list/map such as `[1, 2]`) given outside a file, e.g.
// the VALUE of `--set PATH=VALUE`. Every node gets Location{origin, 0, 0}; empty text is a null
// Node. Throws ConfigError naming `origin`.
Node parse_yaml_value(std::string_view text, const std::string& origin);

// Reads and parses a config file (a regular file of at most kMaxConfigBytes). Throws ConfigError
// naming the file when it is missing or unreadable.
Node load_yaml_file(const std::filesystem::path& file);

}  // namespace dlrun
