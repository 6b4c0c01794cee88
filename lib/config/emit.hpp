// Node -> block-style YAML text, for the run directory's config.yaml and `dlrun check`.
#pragma once

#include <string>

#include "core/node.hpp"

namespace dlrun {

// Block-style YAML that parse_yaml (or parse_yaml_value, for a non-mapping) reads back to an
// equal tree: same kinds, keys in order, scalar texts and quoted flags. Quoted scalars are written
// double-quoted with escapes; plain scalars are written plain unless YAML would read them back
// differently (then they are quoted, which keeps the text). Empty lists and mappings are `[]`/`{}`,
// null is `null`. Ends with a newline.
std::string to_yaml(const Node& node);

}  // namespace dlrun
