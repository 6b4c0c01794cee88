#include "layers/lstm.hpp"

#include <algorithm>

#include "core/fast_math.hpp"
#include "core/simd.hpp"
#include "layers/buffer_shape.hpp"

namespace dlrun {
namespace {

// One row of one step. gates: (4H) pre-activations in, activated i, f, g, o out.
DLRUN_SIMD_CLONES void lstm_row_forward(Index h, float* gates, const float* c_prev, float* c, float* tanh_c,
                                        float* hidden) {
  for_each_lane_block(
      h, [&]<class V>(Index j) __attribute__((always_inline)) {
        const V i = fast_sigmoid(load_vector<V>(gates + j));
        const V f = fast_sigmoid(load_vector<V>(gates + h + j));
        const V g = fast_tanh(load_vector<V>(gates + 2 * h + j));
        const V o = fast_sigmoid(load_vector<V>(gates + 3 * h + j));
        const V cell = f * load_vector<V>(c_prev + j) + i * g;
        const V t = fast_tanh(cell);
        store_vector(gates + j, i);
        store_vector(gates + h + j, f);
        store_vector(gates + 2 * h + j, g);
        store_vector(gates + 3 * h + j, o);
        store_vector(c + j, cell);
        store_vector(tanh_c + j, t);
        store_vector(hidden + j, o * t);
      });
}

// One row of one step, back: dh (H) and the carried dc (H) in; the gate gradients (4H) out, and dc
// replaced by dL/dc_prev.
DLRUN_SIMD_CLONES void lstm_row_backward(Index h, const float* gates, const float* c_prev,
                                         const float* tanh_c, const float* dh, float* dc, float* grad_gates) {
  for_each_lane_block(
      h, [&]<class V>(Index j) __attribute__((always_inline)) {
        const V i = load_vector<V>(gates + j);
        const V f = load_vector<V>(gates + h + j);
        const V g = load_vector<V>(gates + 2 * h + j);
        const V o = load_vector<V>(gates + 3 * h + j);
        const V t = load_vector<V>(tanh_c + j);
        const V grad_h = load_vector<V>(dh + j);
        const V grad_c = grad_h * o * (1.0f - t * t) + load_vector<V>(dc + j);
        store_vector(grad_gates + j, grad_c * g * i * (1.0f - i));
        store_vector(grad_gates + h + j, grad_c * load_vector<V>(c_prev + j) * f * (1.0f - f));
        store_vector(grad_gates + 2 * h + j, grad_c * i * (1.0f - g * g));
        store_vector(grad_gates + 3 * h + j, grad_h * t * o * (1.0f - o));
        store_vector(dc + j, grad_c * f);
      });
}

}  // namespace

Lstm::Lstm(const RecurrentSpec& spec, Index in_features, std::string name, Rng& rng)
    : RecurrentLayer(spec, in_features, 4, std::move(name), rng, /*forget_gate (i, f, g, o)=*/1),
      cells_(static_cast<std::size_t>(directions())) {}

void Lstm::resize_cell_buffers(Index steps, Index batch) {
  for (CellState& state : cells_) {
    resize_buffer(state.cell, {steps + 1, batch, units()});
    resize_buffer(state.tanh_cell, {steps, batch, units()});
    resize_buffer(state.grad_cell, {batch, units()});
  }
}

void Lstm::begin_forward_rows(Index direction, Index row_begin, Index row_end) {
  float* c0 =
      cells_[static_cast<std::size_t>(direction)].cell.data() + zero_slot(direction) * batch() * units();
  std::fill(c0 + row_begin * units(), c0 + row_end * units(), 0.0f);
}

void Lstm::begin_backward_rows(Index direction, Index row_begin, Index row_end) {
  float* dc = cells_[static_cast<std::size_t>(direction)].grad_cell.data();
  std::fill(dc + row_begin * units(), dc + row_end * units(), 0.0f);
}

void Lstm::forward_step(const RecurrentStep& step) {
  CellState& state = cells_[static_cast<std::size_t>(step.direction)];
  const Index h = units();
  const Index n0 = step.row_begin;
  float* gates_rows = gates(step.direction, step.time, n0);
  project_hidden(step, gates_rows, true);
  for (Index n = n0; n < step.row_end; ++n) {
    lstm_row_forward(h, gates_rows + (n - n0) * 4 * h, state.cell.data() + (step.prev_slot * batch() + n) * h,
                     state.cell.data() + (step.out_slot * batch() + n) * h,
                     state.tanh_cell.data() + (step.time * batch() + n) * h,
                     hidden(step.direction, step.out_slot, n));
  }
}

void Lstm::backward_step(const RecurrentStep& step) {
  CellState& state = cells_[static_cast<std::size_t>(step.direction)];
  const Index h = units();
  const Index n0 = step.row_begin;
  float* grad_rows = grad_gates(step.direction, step.time, n0);
  for (Index n = n0; n < step.row_end; ++n) {
    lstm_row_backward(h, gates(step.direction, step.time, n),
                      state.cell.data() + (step.prev_slot * batch() + n) * h,
                      state.tanh_cell.data() + (step.time * batch() + n) * h, grad_hidden(step.direction, n),
                      state.grad_cell.data() + n * h, grad_rows + (n - n0) * 4 * h);
  }
  back_project_hidden(step, grad_rows, false);
}

std::unique_ptr<Layer> make_lstm(Options& options, const LayerBuildContext& context) {
  const RecurrentSpec spec = read_recurrent_spec(options, context, Lstm::kKind);
  return std::make_unique<Lstm>(spec, context.input_shape[2], context.name, *context.rng);
}

}  // namespace dlrun
