// dlrun quantize: post-training int8 quantization (lib/compress/quantize_run); prints which layers
// run in int8 and the float and int8 figures side by side.
#include <spdlog/spdlog.h>

#include "app/commands.hpp"
#include "app/config_loading.hpp"
#include "app/console.hpp"
#include "compress/quantize_run.hpp"
#include "core/options.hpp"

namespace dlrun::app {
namespace {

void print_figures(const std::string& what, const ModelFigures& figures) {
  std::string metrics;
  for (const auto& [name, value] : figures.metrics) metrics += " " + name + "=" + format_number(value);
  spdlog::info("{:<6}{} ({:.0f} examples/s, {} bytes)", what, metrics, figures.examples_per_second,
               figures.file_bytes);
}

}  // namespace

int run_quantize(const CommonOptions& common, const QuantizeOptions& options) {
  Config config = load_config_with_flags(common);
  apply_threads(config);
  auto experiment = prepare_experiment(std::move(config));
  QuantizeRunOptions quantize;
  quantize.checkpoint = options.checkpoint;
  quantize.calibration_batches = options.calibration_batches;
  quantize.out = options.out;
  const QuantizeRunResult result = quantize_and_measure(*experiment, quantize);

  std::string int8, in_float;
  for (const std::string& name : result.int8_layers) int8 += " " + name;
  for (const std::string& name : result.float_layers) in_float += " " + name;
  spdlog::info("int8:{}", int8);
  if (!in_float.empty()) spdlog::info("float:{}", in_float);
  spdlog::info("{} ({} examples), the faster of {} timed runs each:", result.split.name,
               result.split.view->size(), quantize.rounds);
  print_figures("float", result.before);
  print_figures("int8", result.after);
  spdlog::info("int8 model: {}", result.quantized_checkpoint.string());
  print_json_line(result.summary);
  return 0;
}

}  // namespace dlrun::app
