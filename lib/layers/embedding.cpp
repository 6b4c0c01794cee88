#include "layers/embedding.hpp"

#include <algorithm>
#include <cmath>

#include "core/errors.hpp"
#include "core/options.hpp"
#include "core/threads.hpp"
#include "layers/buffer_shape.hpp"
#include "layers/layer_label.hpp"
#include "layers/linear_map.hpp"

namespace dlrun {

Embedding::Embedding(std::string name, const EmbeddingSpec& spec, Rng& rng)
    : name_(std::move(name)), spec_(spec) {
  require(spec_.vocab >= 1 && spec_.dim >= 1, "embedding: vocab and dim must be >= 1");
  require(!spec_.padding_idx || (*spec_.padding_idx >= 0 && *spec_.padding_idx < spec_.vocab),
          "embedding: padding_idx must be in [0, vocab)");
  // A weight like dense's: l1, l2 and max_norm apply to it.
  parameters_.push_back(make_parameter("weight", Shape{spec_.vocab, spec_.dim}, true));
  Tensor& weight = parameters_[0].value;
  rng.fill_normal(weight.values(), 0.0f, 1.0f);
  if (spec_.padding_idx) {
    std::fill_n(weight.data() + *spec_.padding_idx * spec_.dim, spec_.dim, 0.0f);
  }
}

Shape Embedding::output_shape(const Shape& input) const {
  if (input.rank() != 2) {
    throw ShapeError(layer_label(name_, kKind) + ": expects token ids (N, T), got " + input.to_string() +
                     "; the data must be text (one id per step)");
  }
  return Shape{input[0], input[1], spec_.dim};
}

void Embedding::forward(const Tensor& input, Tensor& output, const ForwardContext& /*context*/) {
  if (input.shape().rank() != 2) (void)output_shape(input.shape());  // throws
  const Index count = input.size();
  const Index steps = input.shape()[1];
  resize_buffer(output, {input.shape()[0], steps, spec_.dim});
  ids_.resize(static_cast<std::size_t>(count));
  for (Index i = 0; i < count; ++i) {
    const float value = input[i];
    // Compared as float first: a NaN or a huge value must not reach the integer conversion.
    if (!(value >= 0.0f && value < static_cast<float>(spec_.vocab)) || value != std::floor(value)) {
      const std::string where = "sample " + std::to_string(i / steps) + ", step " + std::to_string(i % steps);
      throw DataError(layer_label(name_, kKind) + ": input " + format_number(value) + " at " + where +
                      " is not a token id in [0, " + std::to_string(spec_.vocab) +
                      ") (vocab: " + std::to_string(spec_.vocab) +
                      "; the data's vocabulary must fit, and the input must be token ids)");
    }
    ids_[static_cast<std::size_t>(i)] = static_cast<Index>(value);
  }
  const Index dim = spec_.dim;
  const float* weight = parameters_[0].value.data();
  float* y = output.data();
  parallel_for(
      count,
      [&](Index first, Index last) {
        for (Index i = first; i < last; ++i) {
          std::copy_n(weight + ids_[static_cast<std::size_t>(i)] * dim, dim, y + i * dim);
        }
      },
      std::max<Index>(1, 16384 / dim));
}

void Embedding::backward(const Tensor& input, const Tensor& /*output*/, const Tensor& grad_output,
                         Tensor& grad_input) {
  grad_input.resize(input.shape());
  if (input_grad_needed()) grad_input.zero();
  const Index count = input.size();
  require(static_cast<Index>(ids_.size()) == count && grad_output.size() == count * spec_.dim,
          "embedding: backward without a matching forward");
  const Index dim = spec_.dim;
  const Index padding = spec_.padding_idx.value_or(-1);
  float* grad_weight = parameters_[0].grad.data();
  // Threads own disjoint column ranges of the table, so repeated ids never race and every sum runs
  // in the order of the steps, whatever the thread count.
  const Index min_columns = count * dim < (Index{1} << 16) ? dim : 8;
  parallel_for(
      dim,
      [&](Index first, Index last) {
        for (Index i = 0; i < count; ++i) {
          const Index id = ids_[static_cast<std::size_t>(i)];
          if (id == padding) continue;
          float* row = grad_weight + id * dim;
          const float* g = grad_output.data() + i * dim;
          for (Index d = first; d < last; ++d) row[d] += g[d];
        }
      },
      min_columns);
}

std::unique_ptr<Layer> make_embedding(Options& options, const LayerBuildContext& context) {
  EmbeddingSpec spec;
  spec.vocab = options.required_integer("vocab");
  options.require_at_least("vocab", static_cast<double>(spec.vocab), 1.0);
  spec.dim = options.required_integer("dim");
  options.require_at_least("dim", static_cast<double>(spec.dim), 1.0);
  if (options.has("padding_idx")) {
    const Index padding = options.integer("padding_idx", 0);
    options.require_in("padding_idx", static_cast<double>(padding), 0.0, static_cast<double>(spec.vocab));
    spec.padding_idx = padding;
  }
  require(context.rng != nullptr, "make_embedding: LayerBuildContext.rng is null");
  auto layer = std::make_unique<Embedding>(context.name, spec, *context.rng);
  layer->output_shape(context.input_shape);
  return layer;
}

}  // namespace dlrun
