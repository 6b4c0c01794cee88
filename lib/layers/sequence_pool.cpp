#include "layers/sequence_pool.hpp"

#include <algorithm>

#include "core/errors.hpp"
#include "layers/buffer_shape.hpp"
#include "layers/layer_label.hpp"

namespace dlrun {

SequencePool::SequencePool(std::string name, SequencePoolMode mode) : name_(std::move(name)), mode_(mode) {}

Shape SequencePool::output_shape(const Shape& input) const {
  if (input.rank() != 3 || input[1] < 1) {
    throw ShapeError(layer_label(name_, kKind) + ": expects (N, T, F) with T >= 1, got " + input.to_string());
  }
  return Shape{input[0], input[2]};
}

double SequencePool::flops_per_example(const Shape& input) const {
  return mode_ == SequencePoolMode::last ? 0.0 : static_cast<double>(input.without_batch().element_count());
}

void SequencePool::forward(const Tensor& input, Tensor& output, const ForwardContext& /*context*/) {
  if (input.shape().rank() != 3 || input.shape()[1] < 1) (void)output_shape(input.shape());  // throws
  const Index n = input.shape()[0], t = input.shape()[1], f = input.shape()[2];
  resize_buffer(output, {n, f});
  if (mode_ == SequencePoolMode::max) argmax_.resize(static_cast<std::size_t>(n * f));
  for (Index s = 0; s < n; ++s) {
    const float* x = input.data() + s * t * f;
    float* y = output.data() + s * f;
    switch (mode_) {
      case SequencePoolMode::last:
        std::copy_n(x + (t - 1) * f, f, y);
        break;
      case SequencePoolMode::mean: {
        std::fill_n(y, f, 0.0f);
        for (Index step = 0; step < t; ++step) {
          for (Index c = 0; c < f; ++c) y[c] += x[step * f + c];
        }
        const float inv = 1.0f / static_cast<float>(t);
        for (Index c = 0; c < f; ++c) y[c] *= inv;
        break;
      }
      case SequencePoolMode::max: {
        Index* winner = argmax_.data() + s * f;
        std::copy_n(x, f, y);
        std::fill_n(winner, f, 0);
        for (Index step = 1; step < t; ++step) {
          for (Index c = 0; c < f; ++c) {
            if (x[step * f + c] > y[c]) {  // strictly greater: the first maximum wins
              y[c] = x[step * f + c];
              winner[c] = step;
            }
          }
        }
        break;
      }
    }
  }
}

void SequencePool::backward(const Tensor& input, const Tensor& /*output*/, const Tensor& grad_output,
                            Tensor& grad_input) {
  grad_input.resize(input.shape());
  if (!input_grad_needed()) return;
  const Index n = input.shape()[0], t = input.shape()[1], f = input.shape()[2];
  require(grad_output.size() == n * f, "sequence_pool: grad_output does not match the output");
  grad_input.zero();
  for (Index s = 0; s < n; ++s) {
    const float* g = grad_output.data() + s * f;
    float* dx = grad_input.data() + s * t * f;
    switch (mode_) {
      case SequencePoolMode::last:
        std::copy_n(g, f, dx + (t - 1) * f);
        break;
      case SequencePoolMode::mean: {
        const float inv = 1.0f / static_cast<float>(t);
        for (Index step = 0; step < t; ++step) {
          for (Index c = 0; c < f; ++c) dx[step * f + c] = g[c] * inv;
        }
        break;
      }
      case SequencePoolMode::max: {
        const Index* winner = argmax_.data() + s * f;
        for (Index c = 0; c < f; ++c) dx[winner[c] * f + c] = g[c];
        break;
      }
    }
  }
}

std::unique_ptr<Layer> make_sequence_pool(Options& options, const LayerBuildContext& context) {
  const std::string mode = options.choice("mode", "last", {"last", "mean", "max"});
  const SequencePoolMode pool_mode = mode == "mean"  ? SequencePoolMode::mean
                                     : mode == "max" ? SequencePoolMode::max
                                                     : SequencePoolMode::last;
  auto layer = std::make_unique<SequencePool>(context.name, pool_mode);
  layer->output_shape(context.input_shape);
  return layer;
}

}  // namespace dlrun
