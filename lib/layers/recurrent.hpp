// What simple_rnn, lstm and gru share: options, PyTorch's parameters (names, layouts, init), the
// time-major buffers, the input projection of all steps as one GEMM, the loop over time (and its
// reverse, back-propagation through time) run per slice of the batch on each thread, and the weight
// gradients as a few large GEMMs at the end. A cell (lstm.cpp, ...) supplies only its step.
//
// Input (N, T, F), batch first. Output (N, T, D*H) with return_sequences, else (N, D*H): each
// direction's final hidden state, which is PyTorch's h_n and Keras's Bidirectional output — for the
// backward direction that is its state after reading the whole sequence backwards (time 0), not
// output[:, -1] (which has seen only the last step). D = 2 when bidirectional: features [0, H) are
// the forward direction, [H, 2H) the backward one, as in PyTorch.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "layers/layer.hpp"
#include "layers/registry.hpp"

namespace dlrun {

// How the weights start. pytorch: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)). keras: Keras's
// defaults, which learn faster on the seed tutorial's stacked LSTM (see recurrent.cpp).
enum class RecurrentInit { pytorch, keras };

struct RecurrentSpec {
  Index units = 0;  // H, >= 1
  bool return_sequences = false;
  bool bidirectional = false;
  bool bias = true;  // bias_ih_l0 and bias_hh_l0
  RecurrentInit init = RecurrentInit::pytorch;
};

// One step of one direction over batch rows [row_begin, row_end), as the loop hands it to a cell.
// Hidden (and LSTM cell) states live in T+1 slots: the state after the step at time t is in
// out_slot, the state it starts from in prev_slot, and one slot holds the zero initial state.
struct RecurrentStep {
  Index direction = 0;  // 0 forward, 1 backward (reverse)
  Index time = 0;       // t: the input row read and the output row written
  Index prev_slot = 0;
  Index out_slot = 0;
  Index row_begin = 0;
  Index row_end = 0;
};

class RecurrentLayer : public Layer {
 public:
  Shape output_shape(const Shape& input) const override;
  void forward(const Tensor& input, Tensor& output, const ForwardContext& context) override;
  void backward(const Tensor& input, const Tensor& output, const Tensor& grad_output,
                Tensor& grad_input) override;
  std::span<Parameter> parameters() override { return parameters_; }
  double flops_per_example(const Shape& input) const override;

  const RecurrentSpec& spec() const { return spec_; }
  Index in_features() const { return in_features_; }
  Index directions() const { return spec_.bidirectional ? 2 : 1; }

 protected:
  // `gates` is G (1 for simple_rnn, 4 for lstm, 3 for gru). PyTorch's init: every weight and bias
  // ~ U(-1/sqrt(H), 1/sqrt(H)), drawn from `rng` in state_dict order (weight_ih_l0, weight_hh_l0,
  // bias_ih_l0, bias_hh_l0, then the _reverse ones). Keras's init (spec.init): weight_ih
  // glorot_uniform, weight_hh orthogonal, biases 0 except bias_ih's `forget_gate` block (>= 0: lstm's
  // unit_forget_bias), which is 1.
  RecurrentLayer(const RecurrentSpec& spec, Index in_features, Index gates, std::string name, Rng& rng,
                 Index forget_gate = -1);

  // The cell's step (both run on one thread, for rows of the batch other threads do not touch).
  // forward_step: gates(d, t) rows hold x_t W_ih^T + folded biases (see hidden_bias_in_step); it
  // adds the recurrence, applies the gate functions and writes hidden(d, out_slot). Anything the
  // backward step needs stays in the cell's buffers, indexed by time.
  virtual void forward_step(const RecurrentStep& step) = 0;
  // backward_step: grad_hidden(d) rows hold dL/dh for the step's output (the output gradient plus
  // what flowed back from the later step); it writes grad_gates(d, t), the gradient of the input
  // projection (and that of the recurrent projection h_prev W_hh^T + b_hh where the cell keeps it
  // apart, see recurrent_grad_gates), and replaces the grad_hidden(d) rows by dL/dh_prev.
  virtual void backward_step(const RecurrentStep& step) = 0;
  // Called once the batch shape is known, before the steps: (re)size the cell's own buffers.
  virtual void resize_cell_buffers(Index /*steps*/, Index /*batch*/) {}
  // Called before each direction's first step over rows: zero the cell's initial state.
  virtual void begin_forward_rows(Index /*direction*/, Index /*row_begin*/, Index /*row_end*/) {}
  // Called before each direction's backward pass over rows: zero the cell's carries.
  virtual void begin_backward_rows(Index /*direction*/, Index /*row_begin*/, Index /*row_end*/) {}
  // false (simple_rnn, lstm): bias_hh is added to the input projection with bias_ih;
  // true (gru): the step adds bias_hh itself, since r multiplies its n part.
  virtual bool hidden_bias_in_step() const { return false; }
  // The gradient of the recurrent projection, (T, N, G*H); the same as grad_gates unless the cell
  // says otherwise (gru, where r scales the n part).
  virtual const Tensor& recurrent_grad_gates(Index direction) const {
    return directions_[d(direction)].grad_gates;
  }

  // Buffers, time-major so that one step of every row is one contiguous block.
  Index steps() const { return steps_; }
  Index batch() const { return batch_; }
  Index units() const { return spec_.units; }
  Index gate_width() const { return gates_ * spec_.units; }   // G*H
  float* gates(Index direction, Index time, Index row);       // (T, N, G*H)
  float* grad_gates(Index direction, Index time, Index row);  // (T, N, G*H)
  float* hidden(Index direction, Index slot, Index row);      // (T+1, N, H)
  Index zero_slot(Index direction) const { return direction == 0 ? 0 : steps_; }
  float* grad_hidden(Index direction, Index row);  // (N, H)
  const Parameter& weight_hh(Index direction) const { return parameters_[param(direction, 1)]; }
  const float* bias_hh(Index direction) const;  // nullptr without bias
  // gates_rows (rows, G*H) = h_prev rows W_hh^T, or += when accumulate.
  void project_hidden(const RecurrentStep& step, float* gates_rows, bool accumulate) const;
  // grad_hidden rows (rows, H) = grad_gates_rows (rows, G*H) W_hh, or += when accumulate.
  void back_project_hidden(const RecurrentStep& step, const float* grad_gates_rows, bool accumulate);
  const std::string& name() const { return name_; }

 private:
  struct Direction {
    Tensor gates;        // (T, N, G*H)
    Tensor hidden;       // (T+1, N, H)
    Tensor grad_gates;   // (T, N, G*H)
    Tensor grad_hidden;  // (N, H): dL/dh carried from step to step
    Tensor input_bias;   // (G*H): bias_ih (+ bias_hh) added to the input projection
    Tensor weight_ih_t;  // (F, G*H): W_ih^T, for the kernels (core/tile_gemm) that read B by rows
    Tensor weight_hh_t;  // (H, G*H): W_hh^T
  };
  static std::size_t d(Index direction) { return static_cast<std::size_t>(direction); }
  std::size_t param(Index direction, Index which) const;  // which: 0 w_ih, 1 w_hh, 2 b_ih, 3 b_hh
  RecurrentStep step_at(Index direction, Index step_number, Index row_begin, Index row_end) const;
  void resize_buffers(Index steps, Index batch);
  void project_inputs(Index direction);
  void forward_rows(Index row_begin, Index row_end, Tensor& output);
  void backward_rows(Index row_begin, Index row_end, const Tensor& grad_output);
  void accumulate_weight_grad(const float* grad_gates, const float* z, Index k, float* grad_weight);
  void accumulate_parameter_grads(Index direction);

  RecurrentSpec spec_;
  Index in_features_;
  Index gates_;
  std::string name_;
  std::vector<Parameter> parameters_;
  std::vector<Direction> directions_;
  Index steps_ = 0;
  Index batch_ = 0;
  Tensor input_time_major_;       // (T, N, F)
  Tensor grad_input_time_major_;  // (T, N, F)
  Tensor scratch_;                // (K, G*H): a transposed weight gradient
};

// Reads units (required), return_sequences, bidirectional and bias; checks the input is (N, T, F).
RecurrentSpec read_recurrent_spec(Options& options, const LayerBuildContext& context, std::string_view kind);

}  // namespace dlrun
