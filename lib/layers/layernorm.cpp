#include "layers/layernorm.hpp"

#include <algorithm>
#include <cmath>

#include "core/errors.hpp"
#include "core/threads.hpp"
#include "layers/layer_label.hpp"
#include "layers/linear_map.hpp"

namespace dlrun {
namespace {

// Rows per block of the parameter-gradient sums. Fixed, so the sums (and so training) do not depend
// on the thread count.
constexpr Index kRowBlock = 64;

}  // namespace

LayerNorm::LayerNorm(std::string name, Index features, const LayerNormSpec& spec)
    : name_(std::move(name)), features_(features), spec_(spec) {
  if (spec_.affine) owned_.resize(static_cast<std::size_t>(kParameterCount));
  parameters_ = owned_;
  init_parameters("");
}

LayerNorm::LayerNorm(std::string name, Index features, const LayerNormSpec& spec,
                     std::span<Parameter> storage, const std::string& prefix)
    : name_(std::move(name)), features_(features), spec_(spec) {
  require(!spec_.affine || static_cast<Index>(storage.size()) == kParameterCount,
          "layernorm: storage must hold kParameterCount parameters");
  if (spec_.affine) parameters_ = storage;
  init_parameters(prefix);
}

void LayerNorm::init_parameters(const std::string& prefix) {
  require(features_ >= 1 && spec_.eps > 0.0, "layernorm: features must be >= 1 and eps > 0");
  if (!spec_.affine) return;
  parameters_[0] = make_parameter(prefix + "weight", Shape{features_}, false);
  parameters_[0].value.fill(1.0f);
  parameters_[1] = make_parameter(prefix + "bias", Shape{features_}, false);
}

void LayerNorm::check_input(const Shape& input) const {
  if (input.rank() != 2 && input.rank() != 3) {
    throw ShapeError(layer_label(name_, kKind) + ": expects (N, F) or (N, T, F), got " + input.to_string());
  }
  if (input[input.rank() - 1] != features_) {
    throw ShapeError(layer_label(name_, kKind) + ": expects " + std::to_string(features_) +
                     " features on the last axis, got " + input.to_string());
  }
}

Shape LayerNorm::output_shape(const Shape& input) const {
  check_input(input);
  return input;
}

double LayerNorm::flops_per_example(const Shape& input) const {
  // Mean, variance, normalise and the affine map: about 7 operations per value.
  return 7.0 * static_cast<double>(input.without_batch().element_count());
}

void LayerNorm::forward(const Tensor& input, Tensor& output, const ForwardContext& /*context*/) {
  check_input(input.shape());
  output.resize(input.shape());
  const Index features = features_;
  const Index rows = input.size() / features;
  mean_.resize(static_cast<std::size_t>(rows));
  inv_std_.resize(static_cast<std::size_t>(rows));
  const float* gamma = spec_.affine ? parameters_[0].value.data() : nullptr;
  const float* beta = spec_.affine ? parameters_[1].value.data() : nullptr;
  const auto eps = static_cast<float>(spec_.eps);
  parallel_for(
      rows,
      [&](Index first, Index last) {
        for (Index r = first; r < last; ++r) {
          const float* x = input.data() + r * features;
          float* y = output.data() + r * features;
          // Two passes (mean, then the variance around it): no cancellation for large offsets.
          float sum = 0.0f;
          for (Index f = 0; f < features; ++f) sum += x[f];
          const float mean = sum / static_cast<float>(features);
          float squares = 0.0f;
          for (Index f = 0; f < features; ++f) squares += (x[f] - mean) * (x[f] - mean);
          const float inv_std = 1.0f / std::sqrt(squares / static_cast<float>(features) + eps);
          mean_[static_cast<std::size_t>(r)] = mean;
          inv_std_[static_cast<std::size_t>(r)] = inv_std;
          if (gamma != nullptr) {
            for (Index f = 0; f < features; ++f) y[f] = (x[f] - mean) * inv_std * gamma[f] + beta[f];
          } else {
            for (Index f = 0; f < features; ++f) y[f] = (x[f] - mean) * inv_std;
          }
        }
      },
      std::max<Index>(1, 16384 / features));
}

// With x_hat = (x - mean) * inv_std and dxh = dy * gamma, per row (F values):
//   dx = inv_std * (dxh - mean(dxh) - x_hat * mean(dxh * x_hat))
//   grad_gamma += sum over rows of dy * x_hat, grad_beta += sum over rows of dy.
void LayerNorm::backward(const Tensor& input, const Tensor& /*output*/, const Tensor& grad_output,
                         Tensor& grad_input) {
  require(grad_output.shape() == input.shape(), "layernorm: grad_output does not match the input");
  grad_input.resize(input.shape());
  const Index features = features_;
  const Index rows = input.size() / features;
  require(static_cast<Index>(mean_.size()) == rows, "layernorm: backward without a matching forward");
  const Index blocks = (rows + kRowBlock - 1) / kRowBlock;
  const bool affine = spec_.affine;
  if (affine) partial_sums_.resize(static_cast<std::size_t>(blocks * 2 * features));
  const float* gamma = affine ? parameters_[0].value.data() : nullptr;
  const bool input_grad = input_grad_needed();
  parallel_for(blocks, [&](Index first_block, Index last_block) {
    for (Index block = first_block; block < last_block; ++block) {
      float* sum_dy_xhat = affine ? partial_sums_.data() + block * 2 * features : nullptr;
      float* sum_dy = affine ? sum_dy_xhat + features : nullptr;
      if (affine) std::fill(sum_dy_xhat, sum_dy_xhat + 2 * features, 0.0f);
      const Index row_end = std::min(rows, (block + 1) * kRowBlock);
      for (Index r = block * kRowBlock; r < row_end; ++r) {
        const float* x = input.data() + r * features;
        const float* dy = grad_output.data() + r * features;
        const float mean = mean_[static_cast<std::size_t>(r)];
        const float inv_std = inv_std_[static_cast<std::size_t>(r)];
        float mean_dxh = 0.0f;
        float mean_dxh_xhat = 0.0f;
        for (Index f = 0; f < features; ++f) {
          const float x_hat = (x[f] - mean) * inv_std;
          const float dxh = affine ? dy[f] * gamma[f] : dy[f];
          mean_dxh += dxh;
          mean_dxh_xhat += dxh * x_hat;
          if (affine) {
            sum_dy_xhat[f] += dy[f] * x_hat;
            sum_dy[f] += dy[f];
          }
        }
        if (!input_grad) continue;
        mean_dxh /= static_cast<float>(features);
        mean_dxh_xhat /= static_cast<float>(features);
        float* dx = grad_input.data() + r * features;
        for (Index f = 0; f < features; ++f) {
          const float x_hat = (x[f] - mean) * inv_std;
          const float dxh = affine ? dy[f] * gamma[f] : dy[f];
          dx[f] = inv_std * (dxh - mean_dxh - x_hat * mean_dxh_xhat);
        }
      }
    }
  });
  if (!affine) return;
  float* grad_gamma = parameters_[0].grad.data();
  float* grad_beta = parameters_[1].grad.data();
  for (Index block = 0; block < blocks; ++block) {  // in block order: the same sums for any thread count
    const float* sums = partial_sums_.data() + block * 2 * features;
    for (Index f = 0; f < features; ++f) {
      grad_gamma[f] += sums[f];
      grad_beta[f] += sums[features + f];
    }
  }
}

std::unique_ptr<Layer> make_layernorm(Options& options, const LayerBuildContext& context) {
  LayerNormSpec spec;
  spec.eps = options.positive_number("eps", spec.eps);
  spec.affine = options.boolean("affine", spec.affine);
  const Shape& input = context.input_shape;
  if (input.rank() != 2 && input.rank() != 3) {
    throw ShapeError(layer_label(context.name, LayerNorm::kKind) + ": expects (N, F) or (N, T, F), got " +
                     input.to_string());
  }
  return std::make_unique<LayerNorm>(context.name, input[input.rank() - 1], spec);
}

}  // namespace dlrun
