#include "layers/simple_rnn.hpp"

#include "core/fast_math.hpp"
#include "core/options.hpp"
#include "core/simd.hpp"

namespace dlrun {
namespace {

DLRUN_SIMD_CLONES void tanh_row_forward(Index h, const float* pre, float* hidden) {
  for_each_lane_block(
      h, [&]<class V>(Index j) __attribute__((always_inline)) {
        store_vector(hidden + j, fast_tanh(load_vector<V>(pre + j)));
      });
}

DLRUN_SIMD_CLONES void relu_row_forward(Index h, const float* pre, float* hidden) {
  for (Index j = 0; j < h; ++j) hidden[j] = pre[j] > 0.0f ? pre[j] : 0.0f;
}

// The activation's derivative from its output: tanh' = 1 - h^2, relu' = [h > 0].
DLRUN_SIMD_CLONES void tanh_row_backward(Index h, const float* hidden, const float* dh, float* grad_pre) {
  for (Index j = 0; j < h; ++j) grad_pre[j] = dh[j] * (1.0f - hidden[j] * hidden[j]);
}

DLRUN_SIMD_CLONES void relu_row_backward(Index h, const float* hidden, const float* dh, float* grad_pre) {
  for (Index j = 0; j < h; ++j) grad_pre[j] = hidden[j] > 0.0f ? dh[j] : 0.0f;
}

}  // namespace

SimpleRnn::SimpleRnn(const RecurrentSpec& spec, RnnNonlinearity nonlinearity, Index in_features,
                     std::string name, Rng& rng)
    : RecurrentLayer(spec, in_features, 1, std::move(name), rng), nonlinearity_(nonlinearity) {}

void SimpleRnn::forward_step(const RecurrentStep& step) {
  const Index h = units();
  float* pre = gates(step.direction, step.time, step.row_begin);
  project_hidden(step, pre, true);
  for (Index n = step.row_begin; n < step.row_end; ++n) {
    const float* row = pre + (n - step.row_begin) * h;
    float* out = hidden(step.direction, step.out_slot, n);
    if (nonlinearity_ == RnnNonlinearity::tanh) {
      tanh_row_forward(h, row, out);
    } else {
      relu_row_forward(h, row, out);
    }
  }
}

void SimpleRnn::backward_step(const RecurrentStep& step) {
  const Index h = units();
  float* grad_pre = grad_gates(step.direction, step.time, step.row_begin);
  for (Index n = step.row_begin; n < step.row_end; ++n) {
    const float* out = hidden(step.direction, step.out_slot, n);
    float* grad_row = grad_pre + (n - step.row_begin) * h;
    if (nonlinearity_ == RnnNonlinearity::tanh) {
      tanh_row_backward(h, out, grad_hidden(step.direction, n), grad_row);
    } else {
      relu_row_backward(h, out, grad_hidden(step.direction, n), grad_row);
    }
  }
  back_project_hidden(step, grad_pre, false);
}

std::unique_ptr<Layer> make_simple_rnn(Options& options, const LayerBuildContext& context) {
  const std::string function = options.choice("nonlinearity", "tanh", {"tanh", "relu"});
  const RecurrentSpec spec = read_recurrent_spec(options, context, SimpleRnn::kKind);
  const RnnNonlinearity nonlinearity = function == "relu" ? RnnNonlinearity::relu : RnnNonlinearity::tanh;
  return std::make_unique<SimpleRnn>(spec, nonlinearity, context.input_shape[2], context.name, *context.rng);
}

}  // namespace dlrun
