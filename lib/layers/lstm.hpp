// Long short-term memory (`type: lstm`), PyTorch's nn.LSTM for one layer, batch first:
//   i = σ(W_ii x + b_ii + W_hi h + b_hi)   f = σ(W_if x + b_if + W_hf h + b_hf)
//   g = tanh(W_ig x + b_ig + W_hg h + b_hg)   o = σ(W_io x + b_io + W_ho h + b_ho)
//   c' = f c + i g   h' = o tanh(c')
// Gate order i, f, g, o in weight_ih_l0 (4H, F), weight_hh_l0 (4H, H), bias_ih_l0, bias_hh_l0.
// https://pytorch.org/docs/stable/generated/torch.nn.LSTM.html
#pragma once

#include "layers/recurrent.hpp"

namespace dlrun {

class Lstm final : public RecurrentLayer {
 public:
  static constexpr std::string_view kKind = "lstm";
  Lstm(const RecurrentSpec& spec, Index in_features, std::string name, Rng& rng);
  std::string_view kind() const override { return kKind; }

 private:
  void resize_cell_buffers(Index steps, Index batch) override;
  void begin_forward_rows(Index direction, Index row_begin, Index row_end) override;
  void begin_backward_rows(Index direction, Index row_begin, Index row_end) override;
  void forward_step(const RecurrentStep& step) override;
  void backward_step(const RecurrentStep& step) override;

  struct CellState {
    Tensor cell;       // (T+1, N, H), slots as the hidden states'
    Tensor tanh_cell;  // (T, N, H): tanh(c_t), by time
    Tensor grad_cell;  // (N, H): dL/dc carried from step to step
  };
  std::vector<CellState> cells_;  // one per direction
};

std::unique_ptr<Layer> make_lstm(Options& options, const LayerBuildContext& context);

}  // namespace dlrun
