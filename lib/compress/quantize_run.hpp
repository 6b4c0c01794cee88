// `dlrun quantize` without its command line: post-training int8 quantization of a trained model
// (calibration on training batches, batchnorm folding, per-channel int8 weights), written as a
// quantized checkpoint, with the float and the int8 model measured side by side.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "compress/measure.hpp"
#include "train/experiment.hpp"

namespace dlrun {

struct QuantizeRunOptions {
  std::filesystem::path checkpoint;  // the trained float model
  Index calibration_batches = 32;    // of the training batch size, spread over the training data
  std::filesystem::path out;         // default: <checkpoint without .safetensors>.int8.safetensors
  Index rounds = 3;                  // timed evaluations of each model, taking turns; the fastest counts
};

struct QuantizeRunResult {
  ReportSplit split;
  ModelFigures before;                       // the float model
  ModelFigures after;                        // the int8 model
  std::uintmax_t float_parameter_bytes = 0;  // the float parameters alone (no optimizer state)
  std::vector<std::string> int8_layers;      // the conv2d / dense layers run in int8
  std::vector<std::string> float_layers;     // the layers run in float
  std::filesystem::path quantized_checkpoint;
  nlohmann::json summary;  // command "quantize"
};

std::filesystem::path default_quantized_path(const std::filesystem::path& checkpoint);

// Loads the checkpoint into e.model (DataError for anything but a float checkpoint that fits;
// ConfigError for a model without conv2d or dense layers), quantizes, writes, measures.
QuantizeRunResult quantize_and_measure(Experiment& e, const QuantizeRunOptions& options);

}  // namespace dlrun
