// positional_embedding: a learned position table added to a sequence (as GPT-2's wpe):
// y[n, t, :] = x[n, t, :] + weight[t, :], weight (max_length, F). PyTorch has no such module; its
// equivalent is x + nn.Embedding(max_length, F).weight[:T], whose state_dict names it "weight" too.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "layers/layer.hpp"
#include "layers/registry.hpp"

namespace dlrun {

class PositionalEmbedding final : public Layer {
 public:
  static constexpr std::string_view kKind = "positional_embedding";

  // weight (max_length, features) ~ N(0, 0.02) from `rng` (GPT-2's init for its position table).
  PositionalEmbedding(std::string name, Index max_length, Index features, Rng& rng);

  std::string_view kind() const override { return kKind; }
  // (N, T, F) with T <= max_length; a longer sequence is a ShapeError naming max_length.
  Shape output_shape(const Shape& input) const override;
  void forward(const Tensor& input, Tensor& output, const ForwardContext& context) override;
  // grad_input = grad_output; weight.grad[t] += sum over n of grad_output[n, t].
  void backward(const Tensor& input, const Tensor& output, const Tensor& grad_output,
                Tensor& grad_input) override;
  std::span<Parameter> parameters() override { return parameters_; }
  double flops_per_example(const Shape& input) const override;

 private:
  void check_input(const Shape& input) const;  // throws ShapeError naming the layer

  std::string name_;
  Index max_length_;
  Index features_;
  std::vector<Parameter> parameters_;  // weight (max_length, F)
};

// Options: max_length (required, >= 1). Input (N, T, F).
std::unique_ptr<Layer> make_positional_embedding(Options& options, const LayerBuildContext& context);

}  // namespace dlrun
