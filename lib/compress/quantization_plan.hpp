// Which layers of a model run in int8: the model's layers split into steps, each an int8 step (a
// conv2d or dense layer with what can be folded into it or run on its integer output) or a float
// step (one layer and the layers fused into it, run as the float model runs them).
#pragma once

#include <vector>

#include "model/model.hpp"

namespace dlrun {

struct QuantizationStep {
  Index first = 0;  // the model's layers [first, end)
  Index end = 0;
  bool int8 = false;
  // int8 steps: layer `first` is the conv2d (groups 1) or dense; after it, in any order allowed
  // below, a batchnorm right after it (folded into its weights and bias), relu (fused, a separate
  // activation layer or the batchnorm's), one maxpool2d (conv2d only; run on the quantized output,
  // which max pooling commutes with), flatten and dropout (nothing to do in eval mode).
  Index batchnorm = -1;  // the folded batchnorm layer, or -1
  bool relu = false;
  Index maxpool = -1;  // the maxpool2d layer, or -1
};

// Every layer in exactly one step, in order. Layers without an int8 path (other activations,
// normalisations that cannot be folded, recurrent and attention layers, grouped convolutions) run
// in float.
std::vector<QuantizationStep> plan_quantization(const Model& model);

// The int8 steps' first layers (the conv2d and dense layers that hold int8 weights).
std::vector<Index> int8_layers(const std::vector<QuantizationStep>& plan);

}  // namespace dlrun
