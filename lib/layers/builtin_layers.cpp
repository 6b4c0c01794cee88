// The one explicit table of layer types (STYLE.md rule 2): one line per type.
#include "layers/activation.hpp"
#include "layers/batchnorm.hpp"
#include "layers/conv2d.hpp"
#include "layers/dense.hpp"
#include "layers/dropout.hpp"
#include "layers/flatten.hpp"
#include "layers/pooling.hpp"
#include "layers/registry.hpp"

namespace dlrun {

LayerRegistry make_builtin_layer_registry() {
  LayerRegistry registry;
  registry.add("activation", make_activation);
  registry.add("avgpool2d", make_avgpool2d);
  registry.add("batchnorm", make_batchnorm);
  registry.add("conv2d", make_conv2d);
  registry.add("dense", make_dense);
  registry.add("dropout", make_dropout);
  registry.add("flatten", make_flatten);
  registry.add("global_avg_pool2d", make_global_avg_pool2d);
  registry.add("maxpool2d", make_maxpool2d);
  return registry;
}

}  // namespace dlrun
