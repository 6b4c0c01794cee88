#include "layers/recurrent.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/errors.hpp"
#include "core/options.hpp"
#include "core/threads.hpp"
#include "core/tile_gemm.hpp"
#include "layers/buffer_shape.hpp"
#include "layers/layer_label.hpp"

namespace dlrun {
namespace {

// Rows of the batch per thread at least. Each thread runs the whole sequence for its rows, so one
// parallel_for per pass pays for itself even for small batches.
constexpr Index kMinRowsPerThread = 4;

// (A, B, C) -> (B, A, C): batch-first and time-major views of a sequence batch.
void swap_outer_axes(const float* from, Index a, Index b, Index c, float* to) {
  parallel_for(
      a,
      [&](Index begin, Index end) {
        for (Index i = begin; i < end; ++i) {
          for (Index j = 0; j < b; ++j) std::copy_n(from + (i * b + j) * c, c, to + (j * a + i) * c);
        }
      },
      16);
}

// to (cols, rows) = from (rows, cols)^T
void transpose(const float* from, Index rows, Index cols, float* to) {
  for (Index r = 0; r < rows; ++r) {
    for (Index c = 0; c < cols; ++c) to[c * rows + r] = from[r * cols + c];
  }
}

// sum += column sums of the (rows, cols) matrix.
void add_column_sums(const float* matrix, Index rows, Index cols, float* sum) {
  for (Index r = 0; r < rows; ++r) {
    const float* row = matrix + r * cols;
    for (Index j = 0; j < cols; ++j) sum[j] += row[j];
  }
}

// Keras's glorot_uniform for its kernel (F, G*H), which is weight_ih (G*H, F) transposed: the
// same fans, and i.i.d. draws do not care about the orientation.
void fill_glorot_uniform(Tensor& weight, Rng& rng) {
  const float limit = std::sqrt(6.0f / static_cast<float>(weight.shape()[0] + weight.shape()[1]));
  rng.fill_uniform(weight.values(), -limit, limit);
}

// Keras's orthogonal for its recurrent kernel (H, G*H): a Gaussian matrix whose rows are made
// orthonormal (QR, with R's diagonal made positive). weight_hh (G*H, H) is that kernel transposed,
// so here its H columns are orthonormalised by modified Gram-Schmidt (which gives R's diagonal
// positive, as Keras's sign correction does): weight_hh^T weight_hh = I_H. Done in double, since
// float Gram-Schmidt loses orthogonality on wide matrices.
void fill_orthogonal_columns(Tensor& weight, Rng& rng) {
  const Index rows = weight.shape()[0];
  const Index cols = weight.shape()[1];
  require(rows >= cols, "orthogonal init: needs rows >= columns");
  std::vector<double> q(static_cast<std::size_t>(rows * cols));  // column-major: column j at j*rows
  for (Index r = 0; r < rows; ++r) {
    for (Index c = 0; c < cols; ++c) q[static_cast<std::size_t>(c * rows + r)] = rng.normal();
  }
  for (Index j = 0; j < cols; ++j) {
    double* column = q.data() + j * rows;
    for (Index k = 0; k < j; ++k) {
      const double* earlier = q.data() + k * rows;
      double dot = 0.0;
      for (Index r = 0; r < rows; ++r) dot += earlier[r] * column[r];
      for (Index r = 0; r < rows; ++r) column[r] -= dot * earlier[r];
    }
    double norm = 0.0;
    for (Index r = 0; r < rows; ++r) norm += column[r] * column[r];
    norm = std::sqrt(norm);
    require(norm > 1e-12, "orthogonal init: degenerate Gaussian draw");
    for (Index r = 0; r < rows; ++r) column[r] /= norm;
  }
  float* out = weight.data();
  for (Index r = 0; r < rows; ++r) {
    for (Index c = 0; c < cols; ++c)
      out[r * cols + c] = static_cast<float>(q[static_cast<std::size_t>(c * rows + r)]);
  }
}

}  // namespace

RecurrentLayer::RecurrentLayer(const RecurrentSpec& spec, Index in_features, Index gates, std::string name,
                               Rng& rng, Index forget_gate)
    : spec_(spec), in_features_(in_features), gates_(gates), name_(std::move(name)) {
  require(spec_.units >= 1 && in_features_ >= 1 && gates_ >= 1,
          "recurrent layer: units, in_features and gates must be >= 1");
  const Index width = gate_width();
  const float bound = 1.0f / std::sqrt(static_cast<float>(spec_.units));
  // Reserved so that the references `add` returns stay valid while later parameters are added.
  parameters_.reserve(static_cast<std::size_t>(directions() * 4));
  for (Index direction = 0; direction < directions(); ++direction) {
    const std::string suffix = direction == 0 ? "_l0" : "_l0_reverse";
    const auto add = [&](const std::string& base, const Shape& shape, bool regularized) -> Tensor& {
      Parameter parameter{base + suffix, Tensor(shape), Tensor(shape)};
      parameter.regularized = regularized;
      if (spec_.init == RecurrentInit::pytorch) rng.fill_uniform(parameter.value.values(), -bound, bound);
      parameters_.push_back(std::move(parameter));
      return parameters_.back().value;
    };
    Tensor& weight_ih = add("weight_ih", Shape{width, in_features_}, true);
    if (spec_.init == RecurrentInit::keras) fill_glorot_uniform(weight_ih, rng);
    Tensor& weight_hh = add("weight_hh", Shape{width, spec_.units}, true);
    if (spec_.init == RecurrentInit::keras) fill_orthogonal_columns(weight_hh, rng);
    if (spec_.bias) {
      Tensor& bias_ih = add("bias_ih", Shape{width}, false);  // zeros under keras
      add("bias_hh", Shape{width}, false);
      // unit_forget_bias: Keras's single bias is bias_ih + bias_hh here, so 1 goes in bias_ih alone.
      if (spec_.init == RecurrentInit::keras && forget_gate >= 0) {
        std::fill_n(bias_ih.data() + forget_gate * spec_.units, spec_.units, 1.0f);
      }
    }
  }
  directions_.resize(static_cast<std::size_t>(directions()));
}

std::size_t RecurrentLayer::param(Index direction, Index which) const {
  const Index per_direction = spec_.bias ? 4 : 2;
  return static_cast<std::size_t>(direction * per_direction + which);
}

const float* RecurrentLayer::bias_hh(Index direction) const {
  return spec_.bias ? parameters_[param(direction, 3)].value.data() : nullptr;
}

Shape RecurrentLayer::output_shape(const Shape& input) const {
  if (input.rank() != 3) {
    throw ShapeError(layer_label(name_, kind()) + ": expects sequences (N, T, F), got " + input.to_string() +
                     "; for images use data.as_sequence: true (rows become time steps)");
  }
  if (input[2] != in_features_) {
    throw ShapeError(layer_label(name_, kind()) + ": expects " + std::to_string(in_features_) +
                     " features per step, got " + input.to_string());
  }
  if (input[1] < 1) throw ShapeError(layer_label(name_, kind()) + ": needs at least one time step");
  const Index features = directions() * spec_.units;
  if (spec_.return_sequences) return Shape{input[0], input[1], features};
  return Shape{input[0], features};
}

float* RecurrentLayer::gates(Index direction, Index time, Index row) {
  return directions_[d(direction)].gates.data() + (time * batch_ + row) * gate_width();
}

float* RecurrentLayer::grad_gates(Index direction, Index time, Index row) {
  return directions_[d(direction)].grad_gates.data() + (time * batch_ + row) * gate_width();
}

float* RecurrentLayer::hidden(Index direction, Index slot, Index row) {
  return directions_[d(direction)].hidden.data() + (slot * batch_ + row) * spec_.units;
}

float* RecurrentLayer::grad_hidden(Index direction, Index row) {
  return directions_[d(direction)].grad_hidden.data() + row * spec_.units;
}

void RecurrentLayer::project_hidden(const RecurrentStep& step, float* gates_rows, bool accumulate) const {
  const Direction& state = directions_[d(step.direction)];
  const Index h = spec_.units;
  const float* h_prev = state.hidden.data() + (step.prev_slot * batch_ + step.row_begin) * h;
  // (rows, H) x (H, G*H), W_hh^T as transposed in forward()
  tile_gemm_nn(step.row_end - step.row_begin, gate_width(), h, h_prev, h, state.weight_hh_t.data(),
               gate_width(), accumulate, gates_rows, gate_width());
}

void RecurrentLayer::back_project_hidden(const RecurrentStep& step, const float* grad_gates_rows,
                                         bool accumulate) {
  const Index h = spec_.units;
  // (rows, G*H) x (G*H, H)
  tile_gemm_nn(step.row_end - step.row_begin, h, gate_width(), grad_gates_rows, gate_width(),
               weight_hh(step.direction).value.data(), h, accumulate,
               grad_hidden(step.direction, step.row_begin), h);
}

// The direction's step_number-th step: forward reads times 0..T-1 and keeps h_t in slot t+1 (slot 0
// is the zero state); backward reads T-1..0 and keeps h_t in slot t (slot T is the zero state). Either
// way the states each step starts from are T consecutive slots, one GEMM operand in
// accumulate_parameter_grads.
RecurrentStep RecurrentLayer::step_at(Index direction, Index step_number, Index row_begin,
                                      Index row_end) const {
  RecurrentStep step;
  step.direction = direction;
  step.row_begin = row_begin;
  step.row_end = row_end;
  if (direction == 0) {
    step.time = step_number;
    step.prev_slot = step.time;
    step.out_slot = step.time + 1;
  } else {
    step.time = steps_ - 1 - step_number;
    step.prev_slot = step.time + 1;
    step.out_slot = step.time;
  }
  return step;
}

void RecurrentLayer::resize_buffers(Index steps, Index batch) {
  steps_ = steps;
  batch_ = batch;
  const Index width = gate_width();
  const Index h = spec_.units;
  for (Direction& direction : directions_) {
    resize_buffer(direction.gates, {steps, batch, width});
    resize_buffer(direction.grad_gates, {steps, batch, width});
    resize_buffer(direction.hidden, {steps + 1, batch, h});
    resize_buffer(direction.grad_hidden, {batch, h});
    resize_buffer(direction.input_bias, {width});
    resize_buffer(direction.weight_ih_t, {in_features_, width});
    resize_buffer(direction.weight_hh_t, {h, width});
  }
  resize_buffer(input_time_major_, {steps, batch, in_features_});
  resize_cell_buffers(steps, batch);
}

// gates(d) = X W_ih^T + bias for all T*N rows at once: (T*N, F) x (F, G*H). Also keeps W_hh^T for
// the steps: the kernels read B row by row.
void RecurrentLayer::project_inputs(Index direction) {
  Direction& state = directions_[d(direction)];
  const Index rows = steps_ * batch_;
  const Index width = gate_width();
  transpose(parameters_[param(direction, 0)].value.data(), width, in_features_, state.weight_ih_t.data());
  transpose(parameters_[param(direction, 1)].value.data(), width, spec_.units, state.weight_hh_t.data());
  tile_gemm_nn_parallel(rows, width, in_features_, input_time_major_.data(), in_features_,
                        state.weight_ih_t.data(), width, false, state.gates.data(), width);
  if (!spec_.bias) return;
  float* bias = state.input_bias.data();
  const float* b_ih = parameters_[param(direction, 2)].value.data();
  const float* b_hh = parameters_[param(direction, 3)].value.data();
  for (Index j = 0; j < width; ++j) bias[j] = b_ih[j] + (hidden_bias_in_step() ? 0.0f : b_hh[j]);
  float* gates_data = state.gates.data();
  parallel_for(
      rows,
      [&](Index begin, Index end) {
        for (Index r = begin; r < end; ++r) {
          float* row = gates_data + r * width;
          for (Index j = 0; j < width; ++j) row[j] += bias[j];
        }
      },
      64);
}

void RecurrentLayer::forward(const Tensor& input, Tensor& output, const ForwardContext& /*context*/) {
  output.resize(output_shape(input.shape()));
  const Index batch = input.shape()[0];
  if (batch == 0) return;
  resize_buffers(input.shape()[1], batch);
  swap_outer_axes(input.data(), batch, steps_, in_features_, input_time_major_.data());
  for (Index direction = 0; direction < directions(); ++direction) project_inputs(direction);
  // The recurrence couples time steps, never batch rows: each thread runs every step for its rows.
  parallel_for(
      batch, [&](Index begin, Index end) { forward_rows(begin, end, output); }, kMinRowsPerThread);
}

void RecurrentLayer::forward_rows(Index row_begin, Index row_end, Tensor& output) {
  const Index h = spec_.units;
  const Index features = directions() * h;
  for (Index direction = 0; direction < directions(); ++direction) {
    std::fill(hidden(direction, zero_slot(direction), row_begin),
              hidden(direction, zero_slot(direction), row_end), 0.0f);
    begin_forward_rows(direction, row_begin, row_end);
    for (Index s = 0; s < steps_; ++s) {
      const RecurrentStep step = step_at(direction, s, row_begin, row_end);
      forward_step(step);
      if (!spec_.return_sequences) continue;
      for (Index n = row_begin; n < row_end; ++n) {
        std::copy_n(hidden(direction, step.out_slot, n), h,
                    output.data() + (n * steps_ + step.time) * features + direction * h);
      }
    }
    if (spec_.return_sequences) continue;
    const Index final_slot = direction == 0 ? steps_ : 0;
    for (Index n = row_begin; n < row_end; ++n) {
      std::copy_n(hidden(direction, final_slot, n), h, output.data() + n * features + direction * h);
    }
  }
}

void RecurrentLayer::backward(const Tensor& input, const Tensor& /*output*/, const Tensor& grad_output,
                              Tensor& grad_input) {
  grad_input.resize(input.shape());
  if (batch_ == 0) return;
  parallel_for(
      batch_, [&](Index begin, Index end) { backward_rows(begin, end, grad_output); }, kMinRowsPerThread);
  for (Index direction = 0; direction < directions(); ++direction) accumulate_parameter_grads(direction);
  if (!input_grad_needed()) return;
  // dX = sum over directions of grad_gates W_ih: (T*N, G*H) x (G*H, F), then back to (N, T, F).
  resize_buffer(grad_input_time_major_, {steps_, batch_, in_features_});
  for (Index direction = 0; direction < directions(); ++direction) {
    tile_gemm_nn_parallel(steps_ * batch_, in_features_, gate_width(),
                          directions_[d(direction)].grad_gates.data(), gate_width(),
                          parameters_[param(direction, 0)].value.data(), in_features_, direction > 0,
                          grad_input_time_major_.data(), in_features_);
  }
  swap_outer_axes(grad_input_time_major_.data(), steps_, batch_, in_features_, grad_input.data());
}

void RecurrentLayer::backward_rows(Index row_begin, Index row_end, const Tensor& grad_output) {
  const Index h = spec_.units;
  const Index features = directions() * h;
  for (Index direction = 0; direction < directions(); ++direction) {
    // Without return_sequences only the final state reaches the output: its gradient starts the
    // carry; with them every step's output gradient joins it on the way.
    for (Index n = row_begin; n < row_end; ++n) {
      float* carry = grad_hidden(direction, n);
      if (spec_.return_sequences) {
        std::fill_n(carry, h, 0.0f);
      } else {
        std::copy_n(grad_output.data() + n * features + direction * h, h, carry);
      }
    }
    begin_backward_rows(direction, row_begin, row_end);
    for (Index s = steps_ - 1; s >= 0; --s) {
      const RecurrentStep step = step_at(direction, s, row_begin, row_end);
      if (spec_.return_sequences) {
        for (Index n = row_begin; n < row_end; ++n) {
          float* carry = grad_hidden(direction, n);
          const float* g = grad_output.data() + (n * steps_ + step.time) * features + direction * h;
          for (Index j = 0; j < h; ++j) carry[j] += g[j];
        }
      }
      backward_step(step);
    }
  }
}

// grad_weight (G*H, K) += grad_gates^T Z over all T*N rows, Z (T*N, K) the layer's inputs or the
// states the steps started from. The kernels are fastest with many columns in multiples of 8: for
// K = 28 (image rows) the transposed product (K, G*H) goes through scratch_.
void RecurrentLayer::accumulate_weight_grad(const float* grad_gates, const float* z, Index k,
                                            float* grad_weight) {
  const Index rows = steps_ * batch_;
  const Index width = gate_width();
  if (k % 8 == 0) {
    tile_gemm_tn_parallel(width, k, rows, grad_gates, width, z, k, true, grad_weight, k);
    return;
  }
  resize_buffer(scratch_, {k, width});
  tile_gemm_tn_parallel(k, width, rows, z, k, grad_gates, width, false, scratch_.data(), width);
  const float* from = scratch_.data();
  for (Index g = 0; g < width; ++g) {
    for (Index j = 0; j < k; ++j) grad_weight[g * k + j] += from[j * width + g];
  }
}

void RecurrentLayer::accumulate_parameter_grads(Index direction) {
  Direction& state = directions_[d(direction)];
  const Tensor& recurrent = recurrent_grad_gates(direction);
  const Index rows = steps_ * batch_;
  const Index width = gate_width();
  accumulate_weight_grad(state.grad_gates.data(), input_time_major_.data(), in_features_,
                         parameters_[param(direction, 0)].grad.data());
  // The states the steps started from are the T consecutive slots from 0 (forward) or 1
  // (backward), see step_at.
  const Index first_prev_slot = direction == 0 ? 0 : 1;
  accumulate_weight_grad(recurrent.data(), state.hidden.data() + first_prev_slot * batch_ * spec_.units,
                         spec_.units, parameters_[param(direction, 1)].grad.data());
  if (!spec_.bias) return;
  add_column_sums(state.grad_gates.data(), rows, width, parameters_[param(direction, 2)].grad.data());
  add_column_sums(recurrent.data(), rows, width, parameters_[param(direction, 3)].grad.data());
}

double RecurrentLayer::flops_per_example(const Shape& input) const {
  // Per step and direction: the input and recurrent projections (2 FLOPs per multiply-add) and
  // about 4 FLOPs per gate value for biases and gate functions.
  const double steps = input.rank() == 3 ? static_cast<double>(input[1]) : 1.0;
  const double width = static_cast<double>(gate_width());
  const double per_step = 2.0 * width * static_cast<double>(in_features_ + spec_.units) + 4.0 * width;
  return static_cast<double>(directions()) * steps * per_step;
}

RecurrentSpec read_recurrent_spec(Options& options, const LayerBuildContext& context, std::string_view kind) {
  RecurrentSpec spec;
  spec.units = options.required_integer("units");
  options.require_at_least("units", static_cast<double>(spec.units), 1.0);
  spec.return_sequences = options.boolean("return_sequences", spec.return_sequences);
  spec.bidirectional = options.boolean("bidirectional", spec.bidirectional);
  spec.bias = options.boolean("bias", spec.bias);
  spec.init = options.choice("init", "pytorch", {"pytorch", "keras"}) == "keras" ? RecurrentInit::keras
                                                                                 : RecurrentInit::pytorch;
  const Shape& input = context.input_shape;
  if (input.rank() != 3 || input[2] < 1) {
    throw ShapeError(layer_label(context.name, kind) + ": expects sequences (N, T, F), got " +
                     input.to_string() + "; for images use data.as_sequence: true (rows become time steps)");
  }
  require(context.rng != nullptr, "recurrent layer factory: LayerBuildContext.rng is null");
  return spec;
}

}  // namespace dlrun
