// Calibration of int8 activations: the float model runs over training examples and the range
// (minimum and maximum, nothing clipped) of every int8 step's input is recorded.
#pragma once

#include <limits>
#include <span>
#include <vector>

#include "compress/quantization_plan.hpp"
#include "data/load.hpp"
#include "model/model.hpp"

namespace dlrun {

struct ActivationRange {
  float low = std::numeric_limits<float>::infinity();
  float high = -std::numeric_limits<float>::infinity();
  void add(std::span<const float> values);  // non-finite values are left out
};

// `batches` batches of `batch_size` examples spread evenly over `view` (every view.size()/count-th
// row, so that data sorted by class is covered), through the float model in eval mode. One range
// per int8 step of `plan`, in order. An int8 step's input is the model's input or the output of the
// step before it.
std::vector<ActivationRange> calibrate_int8_inputs(Model& model, const std::vector<QuantizationStep>& plan,
                                                   const DataView& view, const InputTransform& transform,
                                                   Index batch_size, Index batches);

}  // namespace dlrun
