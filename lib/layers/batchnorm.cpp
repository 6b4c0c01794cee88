#include "layers/batchnorm.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

#include "core/errors.hpp"
#include "core/threads.hpp"
#include "layers/layer_label.hpp"

namespace dlrun {
namespace {

// Calls body(row, c) for every (outer index o, feature c in [first, last)) with `row` pointing at
// the `inner` contiguous values of x[o, c, :]. Every pass of this layer runs over a feature range,
// so threads own disjoint features and their per-feature sums need no reduction across threads.
template <class Body>
void for_rows(Index outer, Index features, Index inner, Index first, Index last, Body&& body) {
  for (Index o = 0; o < outer; ++o) {
    for (Index c = first; c < last; ++c) body((o * features + c) * inner, c);
  }
}

// sum(term(i)) for i in [0, count), in double over four independent chains: GCC -O2 keeps one
// floating-point chain in order, which is latency bound (about 4 cycles per value).
template <class Term>
double sum_of(Index count, const Term& term) {
  double partial[4] = {0.0, 0.0, 0.0, 0.0};
  Index i = 0;
  for (; i + 4 <= count; i += 4) {
    for (Index k = 0; k < 4; ++k) partial[k] += term(i + k);
  }
  for (; i < count; ++i) partial[0] += term(i);
  return (partial[0] + partial[1]) + (partial[2] + partial[3]);
}

}  // namespace

BatchNorm::BatchNorm(std::string name, const BatchNormSpec& spec, Index features)
    : name_(std::move(name)), spec_(spec), features_(features) {
  const Shape shape{features};
  if (spec_.affine) {
    parameters_.push_back({"weight", Tensor(shape, 1.0f), Tensor(shape), true, false});
    parameters_.push_back({"bias", Tensor(shape, 0.0f), Tensor(shape), true, false});
  }
  parameters_.push_back({"running_mean", Tensor(shape, 0.0f), Tensor(shape), false, false});
  parameters_.push_back({"running_var", Tensor(shape, 1.0f), Tensor(shape), false, false});
  weight_ = find("weight");
  bias_ = find("bias");
  running_mean_ = find("running_mean");
  running_var_ = find("running_var");
  const auto count = static_cast<std::size_t>(features);
  mean_.resize(count);
  inv_std_.resize(count);
  scale_.resize(count);
  shift_.resize(count);
  sum_grad_.resize(count);
  sum_grad_x_hat_.resize(count);
}

Parameter* BatchNorm::find(std::string_view name) {
  for (Parameter& parameter : parameters_) {
    if (parameter.name == name) return &parameter;
  }
  return nullptr;
}

BatchNorm::Layout BatchNorm::layout_for(const Shape& input) const {
  Index features = 0;
  Layout layout{};
  if (input.rank() == 4) {
    features = input[1];
    layout = {input[0], input[2] * input[3]};
  } else if (input.rank() == 2) {
    features = input[1];
    layout = {input[0], 1};
  } else if (input.rank() == 3) {
    features = input[2];
    layout = {input[0] * input[1], 1};
  } else {
    throw ShapeError(layer_label(name_, kKind) + ": expects input (N, C, H, W), (N, F) or (N, T, F), got " +
                     input.to_string());
  }
  if (features != features_) {
    throw ShapeError(layer_label(name_, kKind) + ": expects " + std::to_string(features_) +
                     " features/channels, got " + std::to_string(features) + " (input " + input.to_string() +
                     ")");
  }
  return layout;
}

Shape BatchNorm::output_shape(const Shape& input) const {
  layout_for(input);
  return input;
}

double BatchNorm::flops_per_example(const Shape& input) const {
  return 2.0 * static_cast<double>(input.without_batch().element_count());
}

void BatchNorm::forward(const Tensor& input, Tensor& output, const ForwardContext& context) {
  const Layout layout = layout_for(input.shape());
  const Index count = layout.outer * layout.inner;  // values per feature
  const Index inner = layout.inner;
  const float* x = input.data();
  output.resize(input.shape());
  float* y = output.data();
  last_mode_ = context.mode;
  if (context.mode == Mode::train && count < 2) {
    throw ShapeError(layer_label(name_, kKind) +
                     ": train mode needs more than 1 value per feature, got input " +
                     input.shape().to_string());
  }
  const Index min_features = std::max<Index>(1, 4096 / std::max<Index>(count, 1));
  parallel_for(
      features_,
      [&](Index first, Index last) {
        if (context.mode == Mode::train) {
          // Two passes in double: the mean, then the biased variance around it.
          std::fill(mean_.begin() + first, mean_.begin() + last, 0.0);
          std::fill(inv_std_.begin() + first, inv_std_.begin() + last, 0.0);
          for_rows(layout.outer, features_, inner, first, last, [&](Index at, Index c) {
            mean_[c] += sum_of(inner, [&](Index i) { return static_cast<double>(x[at + i]); });
          });
          for (Index c = first; c < last; ++c) mean_[c] /= static_cast<double>(count);
          for_rows(layout.outer, features_, inner, first, last, [&](Index at, Index c) {
            const double mean = mean_[c];
            inv_std_[c] += sum_of(inner, [&](Index i) {  // the sum of squares for now
              const double deviation = x[at + i] - mean;
              return deviation * deviation;
            });
          });
          const double m = spec_.momentum;
          for (Index c = first; c < last; ++c) {
            const double variance = inv_std_[c] / static_cast<double>(count);
            inv_std_[c] = 1.0 / std::sqrt(variance + spec_.eps);
            float& running_mean = running_mean_->value[c];
            float& running_var = running_var_->value[c];
            const double unbiased = variance * static_cast<double>(count) / static_cast<double>(count - 1);
            running_mean = static_cast<float>((1.0 - m) * running_mean + m * mean_[c]);
            running_var = static_cast<float>((1.0 - m) * running_var + m * unbiased);
          }
        } else {
          for (Index c = first; c < last; ++c) {
            mean_[c] = running_mean_->value[c];
            inv_std_[c] = 1.0 / std::sqrt(static_cast<double>(running_var_->value[c]) + spec_.eps);
          }
        }
        for (Index c = first; c < last; ++c) {
          const double gamma = weight_ ? weight_->value[c] : 1.0;
          scale_[c] = static_cast<float>(gamma * inv_std_[c]);
          shift_[c] = bias_ ? bias_->value[c] : 0.0f;
        }
        for_rows(layout.outer, features_, inner, first, last, [&](Index at, Index c) {
          const auto mean = static_cast<float>(mean_[c]);
          const float scale = scale_[c];
          const float shift = shift_[c];
          if (fused_relu_) {  // as the relu layer: keeps NaN
            for (Index i = 0; i < inner; ++i) {
              const float value = (x[at + i] - mean) * scale + shift;
              y[at + i] = value <= 0.0f ? 0.0f : value;
            }
          } else {
            for (Index i = 0; i < inner; ++i) y[at + i] = (x[at + i] - mean) * scale + shift;
          }
        });
      },
      min_features);
}

bool BatchNorm::fuse_activation(std::string_view function) {
  fused_relu_ = function == "relu";
  return fused_relu_;
}

void BatchNorm::backward(const Tensor& input, const Tensor& output, const Tensor& grad_output,
                         Tensor& grad_input) {
  if (fused_relu_) {
    backward_with<true>(input, output, grad_output, grad_input);
  } else {
    backward_with<false>(input, output, grad_output, grad_input);
  }
}

// With x_hat = (x - mean) * inv_std and g = gamma * inv_std:
//   grad_gamma += sum(dy * x_hat), grad_beta += sum(dy)
//   train: dx = g * (dy - sum(dy)/M - x_hat * sum(dy * x_hat)/M)   (mean and variance depend on x)
//   eval:  dx = g * dy
// Relu: dy is the gradient of a fused relu's input, passed where the output is > 0 (as the relu
// layer does).
template <bool Relu>
void BatchNorm::backward_with(const Tensor& input, const Tensor& output, const Tensor& grad_output,
                              Tensor& grad_input) {
  const Layout layout = layout_for(input.shape());
  require(grad_output.size() == input.size(), "batchnorm: grad_output does not match the input");
  const Index count = layout.outer * layout.inner;
  const Index inner = layout.inner;
  const float* x = input.data();
  const float* y = output.data();
  const float* grad_y = grad_output.data();
  const auto dy = [&](Index i) {
    if constexpr (Relu) {
      // A bit mask, not a branch: inside the sums GCC turned the select into a branch, which
      // mispredicts on half the values (bn1's backward took 3.5x as long).
      const std::uint32_t keep = 0u - static_cast<std::uint32_t>(y[i] > 0.0f);
      return std::bit_cast<float>(std::bit_cast<std::uint32_t>(grad_y[i]) & keep);
    } else {
      return grad_y[i];
    }
  };
  grad_input.resize(input.shape());
  float* dx = grad_input.data();
  const bool train = last_mode_ == Mode::train;
  const Index min_features = std::max<Index>(1, 4096 / std::max<Index>(count, 1));
  parallel_for(
      features_,
      [&](Index first, Index last) {
        std::fill(sum_grad_.begin() + first, sum_grad_.begin() + last, 0.0);
        std::fill(sum_grad_x_hat_.begin() + first, sum_grad_x_hat_.begin() + last, 0.0);
        for_rows(layout.outer, features_, inner, first, last, [&](Index at, Index c) {
          const double mean = mean_[c];
          sum_grad_[c] += sum_of(inner, [&](Index i) { return static_cast<double>(dy(at + i)); });
          sum_grad_x_hat_[c] +=
              inv_std_[c] * sum_of(inner, [&](Index i) { return dy(at + i) * (x[at + i] - mean); });
        });
        for (Index c = first; c < last; ++c) {
          if (weight_) weight_->grad[c] += static_cast<float>(sum_grad_x_hat_[c]);
          if (bias_) bias_->grad[c] += static_cast<float>(sum_grad_[c]);
        }
        for_rows(layout.outer, features_, inner, first, last, [&](Index at, Index c) {
          const float g = scale_[c];
          if (!train) {
            for (Index i = 0; i < inner; ++i) dx[at + i] = g * dy(at + i);
            return;
          }
          const auto mean = static_cast<float>(mean_[c]);
          const auto inv_std = static_cast<float>(inv_std_[c]);
          const auto mean_dy = static_cast<float>(sum_grad_[c] / static_cast<double>(count));
          const auto mean_dy_x_hat = static_cast<float>(sum_grad_x_hat_[c] / static_cast<double>(count));
          for (Index i = 0; i < inner; ++i) {
            const float x_hat = (x[at + i] - mean) * inv_std;
            dx[at + i] = g * (dy(at + i) - mean_dy - x_hat * mean_dy_x_hat);
          }
        });
      },
      min_features);
}

std::unique_ptr<Layer> make_batchnorm(Options& options, const LayerBuildContext& context) {
  BatchNormSpec spec;
  spec.momentum = options.number_in("momentum", spec.momentum, 0.0, 1.0, /*high_open=*/false);
  spec.eps = options.positive_number("eps", spec.eps);
  spec.affine = options.boolean("affine", spec.affine);
  const Shape& input = context.input_shape;
  Index features = 0;
  if (input.rank() == 4 || input.rank() == 2) {
    features = input[1];
  } else if (input.rank() == 3) {
    features = input[2];
  } else {
    throw ShapeError(layer_label(context.name, BatchNorm::kKind) +
                     ": expects input (N, C, H, W), (N, F) or (N, T, F), got " + input.to_string());
  }
  return std::make_unique<BatchNorm>(context.name, spec, features);
}

}  // namespace dlrun
