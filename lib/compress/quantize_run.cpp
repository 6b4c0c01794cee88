#include "compress/quantize_run.hpp"

#include "compress/calibration.hpp"
#include "compress/quantized_checkpoint.hpp"
#include "compress/quantized_model.hpp"
#include "config/emit.hpp"
#include "core/errors.hpp"
#include "train/checkpoint.hpp"

namespace dlrun {
namespace {

// The faster of two measurements of the same model.
void keep_fastest(ModelFigures& best, const ModelFigures& figures, Index round) {
  if (round == 0 || figures.seconds < best.seconds) best = figures;
}

}  // namespace

std::filesystem::path default_quantized_path(const std::filesystem::path& checkpoint) {
  std::filesystem::path path = checkpoint;
  if (path.extension() == ".safetensors") path.replace_extension();
  path += ".int8.safetensors";
  return path;
}

QuantizeRunResult quantize_and_measure(Experiment& e, const QuantizeRunOptions& options) {
  require(options.calibration_batches >= 1 && options.rounds >= 1, "quantize_and_measure: bad options");
  const LoadedCheckpoint checkpoint = read_checkpoint(options.checkpoint);
  check_checkpoint_vocabulary(checkpoint, Vocabulary::of(*e.data.train.dataset));
  load_model_parameters(e.model, checkpoint);
  const std::vector<QuantizationStep> plan = plan_quantization(e.model);
  QuantizeRunResult result;
  for (const QuantizationStep& step : plan) {
    if (step.int8) {
      result.int8_layers.push_back(e.model.layer(step.first).name);
      continue;
    }
    for (Index i = step.first; i < step.end; ++i) result.float_layers.push_back(e.model.layer(i).name);
  }
  if (result.int8_layers.empty()) {
    throw ConfigError("the model has no conv2d or dense layer to quantize (quantize runs those in int8)");
  }

  const Index batch = evaluation_batch_size(e.config.train.batch_size);
  const std::vector<ActivationRange> ranges = calibrate_int8_inputs(
      e.model, plan, e.data.train, e.data.transform, batch, options.calibration_batches);
  std::vector<QuantizedLayer> layers;
  std::size_t next = 0;
  for (const QuantizationStep& step : plan) {
    if (!step.int8) continue;
    const ActivationRange& range = ranges[next++];
    layers.push_back(range.low <= range.high ? quantize_step(e.model, step, range.low, range.high)
                                             : quantize_step(e.model, step, 0.0f, 0.0f));
  }
  QuantizedModel quantized(e.model, std::move(layers));

  const Index calibration_examples = std::min(e.data.train.size(), batch * options.calibration_batches);
  nlohmann::json quantization{
      {"weights", "int8, symmetric, per output channel (scale = max|w| / 127)"},
      {"activations", "uint8, affine, per tensor"},
      {"calibration",
       {{"method", "min/max"}, {"batches", options.calibration_batches}, {"examples", calibration_examples}}},
      {"source", options.checkpoint.string()}};
  result.quantized_checkpoint =
      options.out.empty() ? default_quantized_path(options.checkpoint) : options.out;
  write_quantized_checkpoint(result.quantized_checkpoint, quantized, to_yaml(e.config.tree), quantization);

  result.split = report_split(e.data);
  const DataView& view = *result.split.view;
  const LossBinding binding = bind_loss(e.model, *e.loss);
  const auto evaluate_float = [&] {
    return evaluate(e.model, binding, view, e.data.transform, e.task, e.config.metrics, batch);
  };
  const auto evaluate_int8 = [&] {
    return evaluate(
        e.model, binding, view, e.data.transform, e.task, e.config.metrics, batch,
        [&](const Tensor& input, Index depth) -> const Tensor& { return quantized.forward(input, depth); });
  };
  for (Index round = 0; round < options.rounds; ++round) {
    keep_fastest(result.before, measure(evaluate_float, view.size(), options.checkpoint), round);
    keep_fastest(result.after, measure(evaluate_int8, view.size(), result.quantized_checkpoint), round);
  }
  for (const ParameterRef& ref : e.model.parameters()) {
    result.float_parameter_bytes += static_cast<std::uintmax_t>(ref.parameter->value.size()) * sizeof(float);
  }

  nlohmann::json& summary = result.summary;
  summary = {{"command", "quantize"},
             {"checkpoint", options.checkpoint.string()},
             {"quantized_checkpoint", result.quantized_checkpoint.string()},
             {"calibration", quantization["calibration"]},
             {"int8_layers", result.int8_layers},
             {"float_layers", result.float_layers},
             {"split", result.split.name},
             {"examples", view.size()},
             {"timing_rounds", options.rounds}};
  summary["before"] = figures_json(result.before, options.checkpoint);
  summary["before"]["parameter_bytes"] = result.float_parameter_bytes;
  summary["after"] = figures_json(result.after, result.quantized_checkpoint);
  summary["comparison"] = comparison_json(result.before, result.after);
  // Against the float parameters alone: a training checkpoint also holds the optimizer's state.
  summary["comparison"]["size_vs_float_parameters"] =
      static_cast<double>(result.after.file_bytes) / static_cast<double>(result.float_parameter_bytes);
  return result;
}

}  // namespace dlrun
