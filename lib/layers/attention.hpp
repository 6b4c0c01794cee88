// multi_head_attention: self-attention (Vaswani et al. 2017) as PyTorch's nn.MultiheadAttention
// with batch_first=True and query = key = value = the input. Input and output (N, T, E).
//   [Q K V] = X in_proj_weight^T + in_proj_bias                       (one GEMM over N*T rows)
//   per (n, head): O_h = dropout(softmax(Q_h K_h^T / sqrt(E/H) + mask)) V_h
//   Y = concat_h(O_h) out_proj.weight^T + out_proj.bias                (one GEMM over N*T rows)
// The causal mask lets step t attend to steps <= t only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "layers/layer.hpp"
#include "layers/registry.hpp"

namespace dlrun {

struct AttentionSpec {
  Index heads = 1;       // divides the embedding size E
  bool causal = false;   // mask future steps
  double dropout = 0.0;  // on the attention weights, in Mode::train; in [0, 1)
  bool bias = true;      // in_proj_bias and out_proj.bias
};

class MultiHeadAttention final : public Layer {
 public:
  static constexpr std::string_view kKind = "multi_head_attention";
  static Index parameter_count(bool bias) { return bias ? 4 : 2; }

  // Owns its parameters, in PyTorch's state_dict order: in_proj_weight (3E, E) (xavier uniform),
  // in_proj_bias (3E) (zero), out_proj.weight (E, E) (nn.Linear's uniform), out_proj.bias (E) (zero).
  MultiHeadAttention(std::string name, Index embed_dim, const AttentionSpec& spec, Rng& rng);
  // Uses `storage` (parameter_count(spec.bias) entries, owned by an enclosing layer that outlives
  // this one), naming the parameters "<prefix>in_proj_weight", ...: transformer_block's self_attn.
  MultiHeadAttention(std::string name, Index embed_dim, const AttentionSpec& spec, Rng& rng,
                     std::span<Parameter> storage, const std::string& prefix);

  std::string_view kind() const override { return kKind; }
  Shape output_shape(const Shape& input) const override;
  // Mode::train with dropout > 0 draws from context.rng (required then): one number seeds a stream
  // per (sample, head), so the weights dropped do not depend on the thread count.
  void forward(const Tensor& input, Tensor& output, const ForwardContext& context) override;
  void backward(const Tensor& input, const Tensor& output, const Tensor& grad_output,
                Tensor& grad_input) override;
  std::span<Parameter> parameters() override { return parameters_; }
  double flops_per_example(const Shape& input) const override;

  const AttentionSpec& spec() const { return spec_; }
  // The attention weights of the last forward (N, H, T, T), before dropout; masked entries are 0.
  const Tensor& attention_weights() const { return probs_; }

 private:
  struct Sizes {
    Index n, t, e, heads, head_dim;
  };
  Sizes sizes_of(const Shape& input) const;  // throws ShapeError naming the layer
  void init_parameters(const std::string& prefix, Rng& rng);
  // Pairs (n, head) are split over `workers` chunks, each with its own slice of scratch_.
  Index worker_count(const Sizes& sizes) const;
  Parameter& in_weight() { return parameters_[0]; }
  Parameter* in_bias() { return spec_.bias ? &parameters_[1] : nullptr; }
  Parameter& out_weight() { return parameters_[spec_.bias ? 2 : 1]; }
  Parameter* out_bias() { return spec_.bias ? &parameters_[3] : nullptr; }

  std::string name_;
  Index embed_dim_;
  AttentionSpec spec_;
  std::vector<Parameter> owned_;
  std::span<Parameter> parameters_;  // owned_, or an enclosing layer's storage

  // Buffers kept across batches (grown, never shrunk).
  Tensor qkv_;      // (N*T, 3E): the input projection, [q | k | v] per row
  Tensor heads_;    // (3, N, H, T, D): q (already scaled by 1/sqrt(D)), k, v per head, contiguous
  Tensor probs_;    // (N, H, T, T): softmax of the scores
  Tensor dropped_;  // (N, H, T, T): probs_ after dropout (train mode with dropout > 0 only)
  bool dropout_applied_ = false;
  Tensor context_;       // (N*T, E): the heads' outputs side by side, the input of out_proj
  Tensor grad_context_;  // (N*T, E)
  Tensor grad_qkv_;      // (N*T, 3E)
  Tensor scratch_;       // per worker: forward O_h (T, D); backward dO, dQ, dK, dV (T, D) and dP (T, T)
};

// Options: heads (required, divides the input's features), causal (default false), dropout
// (default 0, in [0, 1)), bias (default true). Input (N, T, E).
std::unique_ptr<Layer> make_multi_head_attention(Options& options, const LayerBuildContext& context);

}  // namespace dlrun
