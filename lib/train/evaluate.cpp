#include "train/evaluate.hpp"

#include <algorithm>

#include "core/errors.hpp"

namespace dlrun {

LossBinding bind_loss(Model& model, Loss& loss) {
  LossBinding binding{&loss, model.size()};
  const std::string final = model.final_activation();
  if ((loss.type() == "cross_entropy" && final == "softmax") ||
      (loss.type() == "binary_cross_entropy" && final == "sigmoid")) {
    binding.depth = model.size() - 1;  // fused: the loss takes logits
  }
  return binding;
}

const Tensor& metric_predictions(Model& model, const LossBinding& binding, const Task& task,
                                 const Tensor& output, Tensor& buffer) {
  if (task.classes > 0 || binding.depth < 0 || binding.depth >= model.size()) return output;
  // bind_loss fuses only the final layer, so one layer runs here.
  require(binding.depth == model.size() - 1,
          "metric_predictions: more than the final layer fused into the loss");
  model.layer(binding.depth).layer->forward(output, buffer, ForwardContext{Mode::eval, nullptr});
  return buffer;
}

Evaluation evaluate(Model& model, const LossBinding& binding, const DataView& view,
                    const InputTransform& transform, const Task& task,
                    const std::vector<std::string>& metrics, Index batch_size, const BatchForward& forward,
                    const std::function<void(MetricAccumulator&)>& combine) {
  MetricAccumulator accumulator(metrics, task.classes);
  BatchAssembler batch;
  Tensor final_output;  // value metrics read the final layer's output (see metric_predictions)
  const ForwardContext context{Mode::eval, nullptr};
  for (Index begin = 0; begin < view.size(); begin += batch_size) {
    const Index end = std::min(view.size(), begin + batch_size);
    const std::span<const Index> rows(view.rows.data() + begin, static_cast<std::size_t>(end - begin));
    batch.assemble(*view.dataset, rows, transform, task);
    const Tensor& output = forward ? forward(batch.inputs(), binding.depth)
                                   : model.forward(batch.inputs(), context, binding.depth);
    const double loss = binding.loss->forward_backward(output, batch.targets(), nullptr);
    accumulator.add(metric_predictions(model, binding, task, output, final_output), batch.targets(), loss,
                    end - begin);
  }
  if (combine) combine(accumulator);
  Evaluation evaluation;
  evaluation.values = accumulator.results();
  if (task.classes > 0) {
    evaluation.confusion = accumulator.confusion();
    evaluation.per_class = accumulator.per_class();
  }
  return evaluation;
}

void check_task_fits_model(const Task& task, const Shape& target_shape, const Model& model,
                           const Loss& loss) {
  const Shape output = model.output_shape();
  const Index width = output.rank() > 0 ? output[output.rank() - 1] : 1;
  if (task.classes > 0) {
    if (loss.type() == "binary_cross_entropy") {
      if (output.element_count() != 1 || task.classes > 2) {
        throw ConfigError(
            "binary_cross_entropy with class labels needs one output unit and two classes; the model "
            "outputs " +
            output.to_string() + " for " + std::to_string(task.classes) + " classes");
      }
      return;
    }
    if (width != task.classes) {
      throw ConfigError("the model's last layer outputs " + std::to_string(width) +
                        " values but the data has " + std::to_string(task.classes) +
                        " classes; set units: " + std::to_string(task.classes) + " on the last layer");
    }
    return;
  }
  if (target_shape.element_count() != output.element_count()) {
    throw ConfigError("the model outputs " + output.to_string() + " per example but the " +
                      (task.autoencoder ? "inputs (the autoencoder's targets)" : "targets") + " have " +
                      target_shape.to_string() + "; make the last layer produce " +
                      std::to_string(target_shape.element_count()) + " values");
  }
}

}  // namespace dlrun
