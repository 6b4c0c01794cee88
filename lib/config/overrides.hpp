// Override paths (`--set PATH=VALUE`, search spaces; DESIGN.md §3): dotted keys, where a list
// element is addressed by its index or by its name (`model.layers.fc1.units`,
// `model.layers.3.units`). A mapping key that itself contains dots (a search space's
// `optimizer.lr`) is matched whole when it exists.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/node.hpp"

namespace dlrun {

// Applies one `PATH=VALUE` to `tree`. VALUE is parsed as YAML (a scalar, or a flow list/map such
// as `[1, 2]`; empty = null), every node of it located at Location{origin, 0, 0}. Missing mapping
// keys are created (validation decides later whether they are known); a path through a missing
// list element or through a scalar is a ConfigError at `origin` naming the path, with a
// did-you-mean among the element names.
// origin: how the user wrote it, e.g. "--set model.layers.fc1.units=64".
void apply_override(Node& tree, std::string_view assignment, const std::string& origin);

// Sets the node at `path` to `value` (creating missing mapping keys), with errors as above at
// `where`. apply_override is this after parsing VALUE.
void set_path(Node& tree, std::string_view path, Node value, const Location& where);

// The node at `path`, or nullptr when a mapping key on the way is missing (or a value on the way
// is null). A missing list element or a step into a scalar is a ConfigError at `where`.
Node* find_path(Node& tree, std::string_view path, const Location& where = {});
const Node* find_path(const Node& tree, std::string_view path, const Location& where = {});

// The name of each element of a list, as paths address them: its `name` field, or `<type>_<n>`
// with n counting the elements of that type from 1 (the default layer names), or "" for an
// element that is neither.
std::vector<std::string> element_names(const Node& sequence);

}  // namespace dlrun
