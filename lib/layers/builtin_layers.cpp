// The one explicit table of layer types (STYLE.md rule 2): one line per type.
#include "layers/registry.hpp"

namespace dlrun {

LayerRegistry make_builtin_layer_registry() {
  LayerRegistry registry;
  return registry;
}

}  // namespace dlrun
