#include "layers/gru.hpp"

#include "core/fast_math.hpp"
#include "core/simd.hpp"
#include "layers/buffer_shape.hpp"

namespace dlrun {
namespace {

// One row of one step. gates: (3H) input projections in (b_ih folded in), activated r, z, n out;
// recurrent: (3H) h_prev W_hh^T in, its n part replaced by W_hn h_prev + b_hn.
DLRUN_SIMD_CLONES void gru_row_forward(Index h, float* gates, float* recurrent, const float* b_hh,
                                       const float* h_prev, float* hidden) {
  for_each_lane_block(
      h, [&]<class V>(Index j) __attribute__((always_inline)) {
        const V r = fast_sigmoid(load_vector<V>(gates + j) + load_vector<V>(recurrent + j) +
                                 load_vector<V>(b_hh + j));
        const V z = fast_sigmoid(load_vector<V>(gates + h + j) + load_vector<V>(recurrent + h + j) +
                                 load_vector<V>(b_hh + h + j));
        const V hn = load_vector<V>(recurrent + 2 * h + j) + load_vector<V>(b_hh + 2 * h + j);
        const V n = fast_tanh(load_vector<V>(gates + 2 * h + j) + r * hn);
        store_vector(gates + j, r);
        store_vector(gates + h + j, z);
        store_vector(gates + 2 * h + j, n);
        store_vector(recurrent + 2 * h + j, hn);
        store_vector(hidden + j, n + z * (load_vector<V>(h_prev + j) - n));
      });
}

// One row of one step, back: dh (H) in, replaced by its direct part dh z; the gradients of the
// input projection (grad_input, 3H) and of the recurrent one (grad_recurrent, 3H) out.
DLRUN_SIMD_CLONES void gru_row_backward(Index h, const float* gates, const float* recurrent,
                                        const float* h_prev, float* dh, float* grad_input,
                                        float* grad_recurrent) {
  for_each_lane_block(
      h, [&]<class V>(Index j) __attribute__((always_inline)) {
        const V r = load_vector<V>(gates + j);
        const V z = load_vector<V>(gates + h + j);
        const V n = load_vector<V>(gates + 2 * h + j);
        const V grad_h = load_vector<V>(dh + j);
        const V grad_n = grad_h * (1.0f - z) * (1.0f - n * n);
        const V grad_z = grad_h * (load_vector<V>(h_prev + j) - n) * z * (1.0f - z);
        const V grad_r = grad_n * load_vector<V>(recurrent + 2 * h + j) * r * (1.0f - r);
        store_vector(grad_input + j, grad_r);
        store_vector(grad_input + h + j, grad_z);
        store_vector(grad_input + 2 * h + j, grad_n);
        store_vector(grad_recurrent + j, grad_r);
        store_vector(grad_recurrent + h + j, grad_z);
        store_vector(grad_recurrent + 2 * h + j, grad_n * r);
        store_vector(dh + j, grad_h * z);
      });
}

}  // namespace

Gru::Gru(const RecurrentSpec& spec, Index in_features, std::string name, Rng& rng)
    : RecurrentLayer(spec, in_features, 3, std::move(name), rng),
      cells_(static_cast<std::size_t>(directions())),
      zero_bias_(Shape{3 * spec.units}) {}

const float* Gru::hidden_bias(Index direction) const {
  const float* bias = bias_hh(direction);
  return bias != nullptr ? bias : zero_bias_.data();
}

void Gru::resize_cell_buffers(Index steps, Index batch) {
  for (CellState& state : cells_) {
    resize_buffer(state.recurrent, {steps, batch, 3 * units()});
    resize_buffer(state.grad_recurrent, {steps, batch, 3 * units()});
  }
}

void Gru::forward_step(const RecurrentStep& step) {
  CellState& state = cells_[static_cast<std::size_t>(step.direction)];
  const Index h = units();
  const Index n0 = step.row_begin;
  float* recurrent_rows = state.recurrent.data() + (step.time * batch() + n0) * 3 * h;
  project_hidden(step, recurrent_rows, false);
  const float* b_hh = hidden_bias(step.direction);
  for (Index n = n0; n < step.row_end; ++n) {
    gru_row_forward(h, gates(step.direction, step.time, n), recurrent_rows + (n - n0) * 3 * h, b_hh,
                    hidden(step.direction, step.prev_slot, n), hidden(step.direction, step.out_slot, n));
  }
}

void Gru::backward_step(const RecurrentStep& step) {
  CellState& state = cells_[static_cast<std::size_t>(step.direction)];
  const Index h = units();
  const Index n0 = step.row_begin;
  const Index offset = (step.time * batch() + n0) * 3 * h;
  float* grad_recurrent_rows = state.grad_recurrent.data() + offset;
  for (Index n = n0; n < step.row_end; ++n) {
    const Index row = (n - n0) * 3 * h;
    gru_row_backward(h, gates(step.direction, step.time, n), state.recurrent.data() + offset + row,
                     hidden(step.direction, step.prev_slot, n), grad_hidden(step.direction, n),
                     grad_gates(step.direction, step.time, n), grad_recurrent_rows + row);
  }
  back_project_hidden(step, grad_recurrent_rows, true);  // dL/dh_prev = dh z + grad_recurrent W_hh
}

std::unique_ptr<Layer> make_gru(Options& options, const LayerBuildContext& context) {
  const RecurrentSpec spec = read_recurrent_spec(options, context, Gru::kKind);
  return std::make_unique<Gru>(spec, context.input_shape[2], context.name, *context.rng);
}

}  // namespace dlrun
