// Shared by the layer tests: a layer's option mapping as the YAML loader would build it.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/node.hpp"

namespace dlrun::testing {

// One key per line from line 2 of model.yaml, keys at column 5 and values at `value_column`.
inline Node options_node(const std::vector<std::pair<std::string, std::string>>& entries,
                         int value_column = 12) {
  Node node = Node::map(Location{"model.yaml", 1, 5});
  int line = 2;
  for (const auto& [key, value] : entries) {
    node.set(key, Node::scalar(value, Location{"model.yaml", line, value_column}),
             Location{"model.yaml", line, 5});
    ++line;
  }
  return node;
}

}  // namespace dlrun::testing
