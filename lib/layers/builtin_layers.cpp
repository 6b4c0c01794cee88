// The one explicit table of layer types (STYLE.md rule 2): one line per type.
#include "layers/activation.hpp"
#include "layers/attention.hpp"
#include "layers/batchnorm.hpp"
#include "layers/conv2d.hpp"
#include "layers/dense.hpp"
#include "layers/dropout.hpp"
#include "layers/embedding.hpp"
#include "layers/flatten.hpp"
#include "layers/gru.hpp"
#include "layers/layernorm.hpp"
#include "layers/lstm.hpp"
#include "layers/pooling.hpp"
#include "layers/positional_embedding.hpp"
#include "layers/registry.hpp"
#include "layers/sequence_pool.hpp"
#include "layers/simple_rnn.hpp"
#include "layers/transformer_block.hpp"

namespace dlrun {

LayerRegistry make_builtin_layer_registry() {
  LayerRegistry registry;
  registry.add("activation", make_activation);
  registry.add("avgpool2d", make_avgpool2d);
  registry.add("batchnorm", make_batchnorm);
  registry.add("conv2d", make_conv2d);
  registry.add("dense", make_dense);
  registry.add("dropout", make_dropout);
  registry.add("embedding", make_embedding);
  registry.add("flatten", make_flatten);
  registry.add("global_avg_pool2d", make_global_avg_pool2d);
  registry.add("gru", make_gru);
  registry.add("layernorm", make_layernorm);
  registry.add("lstm", make_lstm);
  registry.add("maxpool2d", make_maxpool2d);
  registry.add("multi_head_attention", make_multi_head_attention);
  registry.add("positional_embedding", make_positional_embedding);
  registry.add("sequence_pool", make_sequence_pool);
  registry.add("simple_rnn", make_simple_rnn);
  registry.add("transformer_block", make_transformer_block);
  return registry;
}

}  // namespace dlrun
