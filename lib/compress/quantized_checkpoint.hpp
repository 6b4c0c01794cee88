// The int8 quantized model file (docs/compression.md): a safetensors file whose metadata `format`
// is "dlrun-int8-1". For every int8 step, under its conv2d / dense layer's name L:
//   L.weight            I8   the layer's weight shape, per output channel symmetric (bn folded)
//   L.weight_scale      F32  [out]   w = weight_scale * weight
//   L.bias              F32  [out]   float, bn folded (zeros when the layer has no bias)
//   L.input_scale       F32  [1]     the step's input x = input_scale * (q - input_zero_point)
//   L.input_zero_point  F32  [1]     an integer in [0, 255]
// and the float parameters of the layers that run in float, under their usual names. Metadata:
// `config` (the resolved YAML), `quantization` (JSON: the scheme, the calibration, the int8 steps).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "compress/quantized_model.hpp"
#include "train/checkpoint.hpp"

namespace dlrun {

bool is_quantized_checkpoint(const LoadedCheckpoint& checkpoint);

// Writes atomically (OutputError). `quantization` goes into the metadata as it is, with the steps
// added under "steps".
void write_quantized_checkpoint(const std::filesystem::path& path, QuantizedModel& model,
                                const std::string& config_yaml, nlohmann::json quantization);

// The int8 layers that the plan of `model` (built from the config) needs, validated: every tensor
// present with its shape, weights integers in [-128, 127], scales finite and > 0, zero points
// integers in [0, 255], the steps those of the config's model. Loads the float steps' parameters
// into `model`. DataError naming the file and the tensor or field otherwise.
std::vector<QuantizedLayer> read_quantized_layers(Model& model, const LoadedCheckpoint& checkpoint);

}  // namespace dlrun
