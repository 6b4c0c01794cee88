// The one explicit table of layer types (STYLE.md rule 2): one line per type.
#include "layers/activation.hpp"
#include "layers/dense.hpp"
#include "layers/dropout.hpp"
#include "layers/flatten.hpp"
#include "layers/registry.hpp"

namespace dlrun {

LayerRegistry make_builtin_layer_registry() {
  LayerRegistry registry;
  registry.add("activation", make_activation);
  registry.add("dense", make_dense);
  registry.add("dropout", make_dropout);
  registry.add("flatten", make_flatten);
  return registry;
}

}  // namespace dlrun
