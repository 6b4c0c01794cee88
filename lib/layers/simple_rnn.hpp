// Elman recurrent layer (`type: simple_rnn`), PyTorch's nn.RNN for one layer, batch first:
//   h' = act(W_ih x + b_ih + W_hh h + b_hh), act = tanh (default) or relu (`nonlinearity:`, PyTorch's
// name; `activation:` would add an activation layer after this one, as on every layer).
// weight_ih_l0 (H, F), weight_hh_l0 (H, H), bias_ih_l0, bias_hh_l0.
// https://pytorch.org/docs/stable/generated/torch.nn.RNN.html
#pragma once

#include "layers/recurrent.hpp"

namespace dlrun {

enum class RnnNonlinearity { tanh, relu };

class SimpleRnn final : public RecurrentLayer {
 public:
  static constexpr std::string_view kKind = "simple_rnn";
  SimpleRnn(const RecurrentSpec& spec, RnnNonlinearity nonlinearity, Index in_features, std::string name,
            Rng& rng);
  std::string_view kind() const override { return kKind; }
  RnnNonlinearity nonlinearity() const { return nonlinearity_; }

 private:
  void forward_step(const RecurrentStep& step) override;
  void backward_step(const RecurrentStep& step) override;

  RnnNonlinearity nonlinearity_;
};

std::unique_ptr<Layer> make_simple_rnn(Options& options, const LayerBuildContext& context);

}  // namespace dlrun
