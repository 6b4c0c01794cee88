// transformer_block: a transformer encoder layer with PyTorch's nn.TransformerEncoderLayer semantics
// (batch_first=True), input and output (N, T, d_model), d_model being the input's features:
//   post-norm (norm_first false): x = norm1(x + dropout1(self_attn(x)))
//                                 y = norm2(x + dropout2(linear2(dropout(act(linear1(x))))))
//   pre-norm  (norm_first true):  x = x + dropout1(self_attn(norm1(x)))
//                                 y = x + dropout2(linear2(dropout(act(linear1(norm2(x))))))
// Built from this library's own layers: MultiHeadAttention, LayerNorm, Activation, Dropout.
// Parameters carry the names of TransformerEncoderLayer's state_dict (self_attn.in_proj_weight,
// ..., linear1.weight, ..., norm2.bias), so a PyTorch model maps one to one.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "layers/activation.hpp"
#include "layers/attention.hpp"
#include "layers/dropout.hpp"
#include "layers/layernorm.hpp"
#include "layers/registry.hpp"

namespace dlrun {

struct TransformerBlockSpec {
  Index heads = 1;  // divides d_model
  Index ff = 0;     // dim_feedforward, >= 1
  double dropout = 0.1;
  ActivationFunction activation = ActivationFunction::relu;  // relu or gelu
  bool norm_first = false;
  bool causal = false;
  double eps = 1e-5;  // layer_norm_eps
};

class TransformerBlock final : public Layer {
 public:
  static constexpr std::string_view kKind = "transformer_block";

  // linear1 and linear2 get nn.Linear's init, the attention and the norms theirs; drawn from `rng`.
  TransformerBlock(std::string name, Index d_model, const TransformerBlockSpec& spec, Rng& rng);

  std::string_view kind() const override { return kKind; }
  Shape output_shape(const Shape& input) const override;
  // Mode::train with dropout > 0 draws from context.rng (the attention weights and the three
  // dropouts, in that order).
  void forward(const Tensor& input, Tensor& output, const ForwardContext& context) override;
  void backward(const Tensor& input, const Tensor& output, const Tensor& grad_output,
                Tensor& grad_input) override;
  std::span<Parameter> parameters() override { return parameters_; }
  double flops_per_example(const Shape& input) const override;

  const TransformerBlockSpec& spec() const { return spec_; }

 private:
  // The feed-forward part on `in` (rows, d_model): y = dropout2(linear2(dropout(act(linear1(in))))).
  void feed_forward(const Tensor& in, Tensor& out, const ForwardContext& context);
  // Its backward: assigns grad_in from grad_out (both (N, T, d_model)), accumulating parameter grads.
  void feed_forward_backward(const Tensor& in, const Tensor& grad_out, Tensor& grad_in);
  Parameter& parameter(Index i) { return parameters_[static_cast<std::size_t>(i)]; }
  void check_input(const Shape& input) const;  // throws ShapeError naming the layer

  std::string name_;
  Index d_model_;
  TransformerBlockSpec spec_;
  // Every parameter, in TransformerEncoderLayer's state_dict order; the attention and the norms
  // use slices of it. Sized once in the constructor, so the slices stay valid.
  std::vector<Parameter> parameters_;
  Index linear1_ = 0;  // index of linear1.weight; linear1.bias, linear2.weight, linear2.bias follow
  std::unique_ptr<MultiHeadAttention> self_attn_;
  std::unique_ptr<LayerNorm> norm1_, norm2_;
  std::unique_ptr<Activation> activation_;
  std::unique_ptr<Dropout> dropout1_, dropout_, dropout2_;
  bool dropout_applied_ = false;  // whether the last forward ran the three dropouts

  // Intermediate results of the last forward and backward scratch (grown, never shrunk).
  Tensor norm1_out_, attn_out_, attn_dropped_, sum1_, norm2_out_, ff_hidden_, ff_active_, ff_dropped_,
      ff_out_, ff_out_dropped_, sum2_;
  Tensor grad_a_, grad_b_, grad_c_, grad_ff_out_, grad_hidden_, grad_active_;
};

// Options: heads (required), ff (default 4 * d_model), dropout (default 0.1, as PyTorch),
// activation (relu | gelu, default relu), norm_first (default false), causal (default false),
// eps (default 1e-5). Input (N, T, d_model).
std::unique_ptr<Layer> make_transformer_block(Options& options, const LayerBuildContext& context);

}  // namespace dlrun
