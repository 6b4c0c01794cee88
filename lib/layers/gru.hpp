// Gated recurrent unit (`type: gru`), PyTorch's nn.GRU for one layer, batch first:
//   r = σ(W_ir x + b_ir + W_hr h + b_hr)   z = σ(W_iz x + b_iz + W_hz h + b_hz)
//   n = tanh(W_in x + b_in + r (W_hn h + b_hn))   h' = (1 - z) n + z h
// (r multiplies the recurrent part of n with its bias, unlike Keras's default reset_after=False.)
// Gate order r, z, n in weight_ih_l0 (3H, F), weight_hh_l0 (3H, H), bias_ih_l0, bias_hh_l0.
// https://pytorch.org/docs/stable/generated/torch.nn.GRU.html
#pragma once

#include "layers/recurrent.hpp"

namespace dlrun {

class Gru final : public RecurrentLayer {
 public:
  static constexpr std::string_view kKind = "gru";
  Gru(const RecurrentSpec& spec, Index in_features, std::string name, Rng& rng);
  std::string_view kind() const override { return kKind; }

 private:
  void resize_cell_buffers(Index steps, Index batch) override;
  void forward_step(const RecurrentStep& step) override;
  void backward_step(const RecurrentStep& step) override;
  bool hidden_bias_in_step() const override { return true; }
  const Tensor& recurrent_grad_gates(Index direction) const override {
    return cells_[static_cast<std::size_t>(direction)].grad_recurrent;
  }
  const float* hidden_bias(Index direction) const;

  struct CellState {
    Tensor recurrent;       // (T, N, 3H): h_prev W_hh^T; its n part then holds W_hn h_prev + b_hn
    Tensor grad_recurrent;  // (T, N, 3H): gradient of h_prev W_hh^T + b_hh
  };
  std::vector<CellState> cells_;  // one per direction
  Tensor zero_bias_;              // (3H) zeros, the hidden bias when bias: false
};

std::unique_ptr<Layer> make_gru(Options& options, const LayerBuildContext& context);

}  // namespace dlrun
