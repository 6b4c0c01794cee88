// Shared by the search tests: a search space from the `space:` mapping of a YAML text.
#pragma once

#include <string>

#include "config/yaml_loader.hpp"
#include "select/search_space.hpp"

namespace dlrun::testing {

inline SearchSpace space_of(const std::string& yaml) {
  return parse_search_space(*parse_yaml(yaml, "s.yaml").find("space"));
}

}  // namespace dlrun::testing
