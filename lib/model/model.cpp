#include "model/model.hpp"

#include <algorithm>

#include "core/errors.hpp"
#include "core/threads.hpp"
#include "layers/activation.hpp"

namespace dlrun {
namespace {

std::string layer_context(const LayerConfig& config) {
  return "layer '" + config.name + "' (" + config.type + ")";
}

// A layer's ShapeError as a ConfigError at the layer's config line. Layers name themselves
// ("layer 'conv1' (conv2d): ..."), so `context` (which names the layer too) is prepended only to
// messages that do not: the layer is named once.
[[noreturn]] void throw_shape_error(const LayerConfig& config, const std::string& context,
                                    const ShapeError& error) {
  const std::string message = error.what();
  if (message.starts_with("layer '" + config.name + "'")) throw ConfigError(config.where, message);
  throw ConfigError(config.where, context + ": " + message);
}

// The activation function a config entry ends with, or "".
std::string activation_function_of(const LayerConfig& config) {
  if (config.type == "activation") {
    const Node* function = config.options.find("function");  // or its Keras spelling, activation:
    if (function == nullptr) function = config.options.find("activation");
    return function && function->is_scalar() ? function->text() : std::string();
  }
  const Node* activation = config.options.find("activation");
  return activation && activation->is_scalar() ? activation->text() : std::string();
}

bool has_trainable_parameters(Layer& layer) {
  for (const Parameter& parameter : layer.parameters()) {
    if (parameter.trainable) return true;
  }
  return false;
}

// Whether l1 / l2 / max_norm have anything to act on: a trainable, regularised parameter.
bool has_regularized_weights(Layer& layer) {
  for (const Parameter& parameter : layer.parameters()) {
    if (parameter.trainable && parameter.regularized) return true;
  }
  return false;
}

}  // namespace

Model Model::build(const std::vector<LayerConfig>& layers, const Shape& input_shape,
                   const LayerRegistry& registry, Rng& init_rng) {
  Model model;
  model.input_shape_ = input_shape;
  Shape shape = input_shape.with_batch(1);
  for (const LayerConfig& config : layers) {
    const std::string context = layer_context(config);
    Options options(config.options, context);
    LayerRegularization regularization;
    regularization.l1 = options.number_at_least("l1", 0.0, 0.0);
    regularization.l2 = options.number_at_least("l2", 0.0, 0.0);
    regularization.max_norm = options.number_at_least("max_norm", 0.0, 0.0);

    // The shorthand activation reads its own options (negative_slope, alpha) before the layer's
    // factory checks for unknown keys.
    std::unique_ptr<Layer> activation;
    std::string function;
    if (config.type != "activation" && options.has("activation")) {
      function = options.string("activation", "");
      activation = make_activation_layer(function, options, config.name);
    }

    const LayerBuildContext build_context{config.name, shape, &init_rng};
    std::unique_ptr<Layer> layer;
    try {
      layer = registry.build(config.type, config.type_where, options, build_context);
    } catch (const ShapeError& error) {
      throw_shape_error(config, context, error);
    }
    // On a layer without weights (dropout, pooling, batch norm, ...) they would silently do nothing.
    for (const char* key : {"l1", "l2", "max_norm"}) {
      if (options.has(key) && !has_regularized_weights(*layer)) {
        options.fail(key,
                     "has no effect: this layer has no weights (l1, l2 and max_norm apply to the weights of "
                     "dense and conv2d layers, not to biases or norms)");
      }
    }
    Shape output;
    try {
      output = layer->output_shape(shape);
    } catch (const ShapeError& error) {
      throw_shape_error(config, context + ": input " + shape.without_batch().to_string() + " does not fit",
                        error);
    }
    ModelLayer entry{
        config.name,      config.type, config.type == "activation" ? activation_function_of(config) : "",
        std::move(layer), output,      regularization};
    model.layers_.push_back(std::move(entry));
    shape = output;

    if (activation && model.layers_.back().layer->fuse_activation(function)) {
      model.layers_.back().function = function;  // computed inside the layer: no separate pass
      activation.reset();
    }
    if (activation) {
      ModelLayer act{config.name + "_" + function, "activation", function,
                     std::move(activation),        shape,        LayerRegularization{}};
      model.layers_.push_back(std::move(act));
    }
  }
  // Runs such as conv2d + maxpool2d + flatten execute as one layer, the first, which is offered
  // each following layer in turn. A final layer stays separate: evaluation may stop the forward
  // pass before the final layer (see Model::forward), never inside a run.
  for (std::size_t i = 1, first = 0; i + 1 < model.layers_.size(); ++i) {
    if (model.layers_[first].layer->fuse_next(*model.layers_[i].layer)) {
      model.layers_[i].fused_into_previous = true;
    } else {
      first = i;
    }
  }
  // Gradients flow back only as far as the first layer with trainable parameters: the layers before
  // it (a flatten or dropout on the data) learn nothing, and the data needs no gradient.
  model.first_trainable_ = 0;
  while (model.first_trainable_ < model.size() &&
         !has_trainable_parameters(*model.layer(model.first_trainable_).layer))
    ++model.first_trainable_;
  for (Index i = 0; i < model.size() && i <= model.first_trainable_; ++i)
    model.layer(i).layer->set_input_grad_needed(false);
  model.outputs_.resize(model.layers_.size());
  return model;
}

Shape Model::output_shape() const {
  if (layers_.empty()) return input_shape_;
  return layers_.back().output_shape.without_batch();
}

// Where layer i's forward() writes: its own output, or that of the last layer it computes.
std::size_t Model::output_slot(Index i, Index depth) const {
  auto last = static_cast<std::size_t>(i);
  while (last + 1 < layers_.size() && layers_[last + 1].fused_into_previous) ++last;
  require(static_cast<Index>(last) < depth, "Model: a forward pass may not stop inside fused layers");
  return last;
}

const Tensor& Model::forward(const Tensor& input, const ForwardContext& context, Index depth) {
  if (depth < 0 || depth > size()) depth = size();
  const Tensor* current = &input;
  for (Index i = 0; i < depth; ++i) {
    if (layers_[static_cast<std::size_t>(i)].fused_into_previous) continue;
    Tensor& output = outputs_[output_slot(i, depth)];
    layers_[static_cast<std::size_t>(i)].layer->forward(*current, output, context);
    current = &output;
  }
  return *current;
}

void Model::backward(const Tensor& input, const Tensor& grad_output, Index depth,
                     const std::function<void(Index)>* after_layer) {
  if (depth < 0 || depth > size()) depth = size();
  const Tensor* grad = &grad_output;
  bool into_a = true;  // ping-pong: never write the buffer being read
  for (Index i = depth - 1; i >= first_trainable_; --i) {
    const auto at = static_cast<std::size_t>(i);
    if (layers_[at].fused_into_previous) continue;
    const Tensor& layer_input = i == 0 ? input : outputs_[at - 1];
    Tensor& grad_input = into_a ? grad_a_ : grad_b_;
    into_a = !into_a;
    layers_[at].layer->backward(layer_input, outputs_[output_slot(i, depth)], *grad, grad_input);
    if (after_layer) (*after_layer)(i);
    grad = &grad_input;
  }
}

std::vector<ParameterRef> Model::parameters() {
  std::vector<ParameterRef> result;
  for (ModelLayer& entry : layers_) {
    for (Parameter& parameter : entry.layer->parameters()) {
      result.push_back(ParameterRef{entry.name + "." + parameter.name, &parameter});
    }
  }
  return result;
}

std::vector<ParameterRef> Model::trainable_parameters() {
  std::vector<ParameterRef> result;
  for (const ParameterRef& ref : parameters()) {
    if (ref.parameter->trainable) result.push_back(ref);
  }
  return result;
}

void Model::zero_grads() {
  // Memory-bound: large gradients are zeroed by all the threads (8% of an MLP epoch on one).
  constexpr Index kMinChunk = Index{1} << 15;
  for (ModelLayer& entry : layers_) {
    for (Parameter& parameter : entry.layer->parameters()) {
      if (!parameter.trainable) continue;
      float* grad = parameter.grad.data();
      parallel_for(
          parameter.grad.size(), [&](Index begin, Index end) { std::fill(grad + begin, grad + end, 0.0f); },
          kMinChunk);
    }
  }
}

std::vector<LayerSummary> Model::summary() const {
  std::vector<LayerSummary> rows;
  Shape input = input_shape_;
  for (const ModelLayer& entry : layers_) {
    Index count = 0;
    for (const Parameter& parameter : entry.layer->parameters()) count += parameter.value.size();
    std::string type = entry.type;
    if (!entry.function.empty())
      type = entry.type == "activation" ? "activation(" + entry.function + ")"
                                        : entry.type + "+" + entry.function;
    rows.push_back(LayerSummary{entry.name, type, entry.output_shape.without_batch(), count,
                                entry.layer->flops_per_example(input.with_batch(1))});
    input = entry.output_shape.without_batch();
  }
  return rows;
}

std::string Model::final_activation() const {
  if (layers_.empty() || layers_.back().type != "activation") return "";
  return layers_.back().function;
}

}  // namespace dlrun
