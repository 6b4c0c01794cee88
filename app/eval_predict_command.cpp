// dlrun eval (metrics of a checkpoint on a split, with a confusion matrix and per-class scores for
// classification) and dlrun predict (class and probabilities, or raw outputs, as CSV).
#include <cmath>
#include <iostream>

#include "app/commands.hpp"
#include "app/config_loading.hpp"
#include "app/console.hpp"
#include "compress/quantized_checkpoint.hpp"
#include "core/options.hpp"
#include "data/inputs.hpp"
#include "io/files.hpp"
#include "io/npy_writer.hpp"
#include "train/checkpoint.hpp"
#include "train/checkpoint_categories.hpp"
#include "train/evaluate.hpp"
#include "train/experiment.hpp"
#include "train/predict.hpp"

namespace dlrun::app {
namespace {

// The config's experiment with the checkpoint's parameters; for an int8 quantized checkpoint
// (dlrun quantize) also the int8 model, which then runs the batches.
struct LoadedExperiment {
  std::unique_ptr<Experiment> experiment;
  std::unique_ptr<QuantizedModel> int8;
};

LoadedExperiment experiment_with_checkpoint(const CommonOptions& common,
                                            const std::filesystem::path& checkpoint) {
  Config config = load_config_with_flags(common);
  apply_threads(config);
  LoadedExperiment loaded{prepare_experiment(std::move(config)), nullptr};
  const LoadedCheckpoint file = read_checkpoint(checkpoint);
  check_checkpoint_vocabulary(file, Vocabulary::of(*loaded.experiment->data.train.dataset));
  check_checkpoint_categories(file, loaded.experiment->data.train.dataset->categories);
  Model& model = loaded.experiment->model;
  if (is_quantized_checkpoint(file)) {
    loaded.int8 = std::make_unique<QuantizedModel>(model, read_quantized_layers(model, file));
  } else {
    load_model_parameters(model, file);
  }
  return loaded;
}

}  // namespace

int run_eval(const CommonOptions& common, const EvalOptions& options) {
  const LoadedExperiment loaded = experiment_with_checkpoint(common, options.checkpoint);
  Experiment& e = *loaded.experiment;
  const DataView& view = options.split == "test"         ? e.data.test
                         : options.split == "validation" ? e.data.validation
                                                         : e.data.train;
  if (view.empty()) throw ConfigError("the config has no " + options.split + " data to evaluate");
  const LossBinding binding = bind_loss(e.model, *e.loss);
  const Index batch = evaluation_batch_size(e.config.train.batch_size);
  BatchForward int8_forward;
  if (loaded.int8) {
    int8_forward = [&](const Tensor& input, Index depth) -> const Tensor& {
      return loaded.int8->forward(input, depth);
    };
  }
  const Evaluation evaluation =
      evaluate(e.model, binding, view, e.data.transform, e.task, e.config.metrics, batch, int8_forward);
  nlohmann::json summary{{"command", "eval"},
                         {"split", options.split},
                         {"checkpoint", options.checkpoint.string()},
                         {"examples", view.size()}};
  if (loaded.int8) summary["int8"] = true;
  for (const auto& [name, value] : evaluation.values)
    summary[name] = std::isfinite(value) ? nlohmann::json(value) : nlohmann::json();
  if (view.dataset->token_ids && std::isfinite(evaluation.values.front().second)) {
    summary["bits_per_char"] = nats_to_bits(evaluation.values.front().second);
    summary["unigram_baseline_bits_per_char"] =
        unigram_entropy_bits(*e.data.train.dataset, e.data.train.rows);
  }
  if (e.task.classes > 0) {
    summary["classes"] = view.dataset->class_names;
    summary["confusion_matrix"] = evaluation.confusion;
    nlohmann::json per_class = nlohmann::json::array();
    for (std::size_t c = 0; c < evaluation.per_class.size(); ++c) {
      const auto& s = evaluation.per_class[c];
      per_class.push_back({{"class", view.dataset->class_names[c]},
                           {"precision", s.precision},
                           {"recall", s.recall},
                           {"f1", s.f1},
                           {"support", s.support}});
    }
    summary["per_class"] = per_class;
  }
  print_json_line(summary);
  return 0;
}

int run_predict(const CommonOptions& common, const PredictOptions& options) {
  const LoadedExperiment loaded = experiment_with_checkpoint(common, options.checkpoint);
  Experiment& e = *loaded.experiment;
  const Dataset& train = *e.data.train.dataset;
  const Dataset inputs = read_prediction_inputs(options.input, options.format, e.config.data, train);
  const bool classify = e.task.classes > 0 && !options.raw;
  const std::string final = e.model.final_activation();
  const bool final_applied = (e.loss->type() == "cross_entropy" && final == "softmax") ||
                             (e.loss->type() == "binary_cross_entropy" && final == "sigmoid");

  std::string header = "index";
  if (classify) {
    header += ",label";
    for (const std::string& name : train.class_names) header += ",p_" + name;
  } else {
    for (Index i = 0; i < e.model.output_shape().element_count(); ++i) header += ",y" + std::to_string(i);
  }
  std::string text = header + "\n";

  // --output x.npy: float32 (N, classes) probabilities, or with --raw (N, output shape...).
  const bool npy = options.output.extension() == ".npy";
  std::vector<float> numbers;
  std::vector<double> probabilities;
  const Index batch_size = evaluation_batch_size(e.config.train.batch_size);
  const auto sink = [&](Index index, std::span<const float> values) {
    if (npy) {
      if (classify) {
        class_probabilities(values, e.loss->type(), final_applied, probabilities);
        numbers.insert(numbers.end(), probabilities.begin(), probabilities.end());
      } else {
        numbers.insert(numbers.end(), values.begin(), values.end());
      }
      return;
    }
    text += std::to_string(index);
    if (classify) {
      class_probabilities(values, e.loss->type(), final_applied, probabilities);
      const auto best = std::max_element(probabilities.begin(), probabilities.end()) - probabilities.begin();
      text += "," + train.class_names[static_cast<std::size_t>(best)];
      for (const double p : probabilities) text += "," + format_number(p);
    } else {
      for (const float v : values) text += "," + format_number(v);
    }
    text += "\n";
  };
  std::function<const Tensor&(const Tensor&)> int8_forward;
  if (loaded.int8)
    int8_forward = [&](const Tensor& input) -> const Tensor& { return loaded.int8->forward(input); };
  predict_all(e.model, inputs, e.data.transform, batch_size, sink, int8_forward);
  if (npy) {
    std::vector<Index> shape{inputs.size()};
    if (classify) {
      shape.push_back(static_cast<Index>(train.class_names.size()));
    } else {
      const Shape output_shape = e.model.output_shape();
      const auto& dims = output_shape.dims();
      shape.insert(shape.end(), dims.begin(), dims.end());
    }
    write_text_atomic(options.output, npy_float32_bytes(shape, numbers));
  } else if (options.output.empty()) {
    std::cout << text << std::flush;
  } else {
    write_text_atomic(options.output, text);
  }
  return 0;
}

}  // namespace dlrun::app
