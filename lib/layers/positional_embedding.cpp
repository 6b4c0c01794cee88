#include "layers/positional_embedding.hpp"

#include <algorithm>

#include "core/errors.hpp"
#include "core/threads.hpp"
#include "layers/layer_label.hpp"
#include "layers/linear_map.hpp"

namespace dlrun {

PositionalEmbedding::PositionalEmbedding(std::string name, Index max_length, Index features, Rng& rng)
    : name_(std::move(name)), max_length_(max_length), features_(features) {
  require(max_length_ >= 1 && features_ >= 1, "positional_embedding: max_length and features must be >= 1");
  parameters_.push_back(make_parameter("weight", Shape{max_length_, features_}, true));
  rng.fill_normal(parameters_[0].value.values(), 0.0f, 0.02f);
}

void PositionalEmbedding::check_input(const Shape& input) const {
  if (input.rank() != 3 || input[2] != features_) {
    throw ShapeError(layer_label(name_, kKind) + ": expects (N, T, " + std::to_string(features_) + "), got " +
                     input.to_string());
  }
  if (input[1] > max_length_) {
    throw ShapeError(layer_label(name_, kKind) + ": the sequence has " + std::to_string(input[1]) +
                     " steps, more than max_length " + std::to_string(max_length_));
  }
}

Shape PositionalEmbedding::output_shape(const Shape& input) const {
  check_input(input);
  return input;
}

double PositionalEmbedding::flops_per_example(const Shape& input) const {
  return static_cast<double>(input.without_batch().element_count());
}

void PositionalEmbedding::forward(const Tensor& input, Tensor& output, const ForwardContext& /*context*/) {
  check_input(input.shape());
  output.resize(input.shape());
  const Index per_sample = input.shape()[1] * features_;  // T * F: the table's first T rows
  const float* table = parameters_[0].value.data();
  parallel_for(
      input.shape()[0],
      [&](Index first, Index last) {
        for (Index n = first; n < last; ++n) {
          const float* x = input.data() + n * per_sample;
          float* y = output.data() + n * per_sample;
          for (Index i = 0; i < per_sample; ++i) y[i] = x[i] + table[i];
        }
      },
      std::max<Index>(1, (Index{1} << 15) / std::max<Index>(per_sample, 1)));
}

void PositionalEmbedding::backward(const Tensor& input, const Tensor& /*output*/, const Tensor& grad_output,
                                   Tensor& grad_input) {
  grad_input.resize(input.shape());
  const Index per_sample = input.shape()[1] * features_;
  require(grad_output.size() == input.size(), "positional_embedding: grad_output does not match the input");
  float* grad_table = parameters_[0].grad.data();
  for (Index n = 0; n < input.shape()[0]; ++n) {  // in sample order: the same sums for any thread count
    const float* g = grad_output.data() + n * per_sample;
    for (Index i = 0; i < per_sample; ++i) grad_table[i] += g[i];
  }
  if (input_grad_needed())
    std::copy(grad_output.values().begin(), grad_output.values().end(), grad_input.data());
}

std::unique_ptr<Layer> make_positional_embedding(Options& options, const LayerBuildContext& context) {
  const Index max_length = options.required_integer("max_length");
  options.require_at_least("max_length", static_cast<double>(max_length), 1.0);
  const Shape& input = context.input_shape;
  if (input.rank() != 3) {
    throw ShapeError(layer_label(context.name, PositionalEmbedding::kKind) + ": expects (N, T, F), got " +
                     input.to_string() + "; put an embedding before it");
  }
  require(context.rng != nullptr, "make_positional_embedding: LayerBuildContext.rng is null");
  auto layer = std::make_unique<PositionalEmbedding>(context.name, max_length, input[2], *context.rng);
  layer->output_shape(input);
  return layer;
}

}  // namespace dlrun
