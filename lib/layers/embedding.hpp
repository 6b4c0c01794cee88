// embedding: a lookup table of `vocab` learned vectors (PyTorch's nn.Embedding). Input (N, T) of
// token ids held as floats (text data gives them unscaled), output (N, T, dim): row t of sample n
// is weight[id]. Ids must be integers in [0, vocab).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "layers/layer.hpp"
#include "layers/registry.hpp"

namespace dlrun {

struct EmbeddingSpec {
  Index vocab = 0;                   // >= 1
  Index dim = 0;                     // >= 1
  std::optional<Index> padding_idx;  // in [0, vocab): its row starts at zero and is never updated
};

class Embedding final : public Layer {
 public:
  static constexpr std::string_view kKind = "embedding";

  // PyTorch's init: weight (vocab, dim) ~ N(0, 1) from `rng`, the padding row zero.
  Embedding(std::string name, const EmbeddingSpec& spec, Rng& rng);

  std::string_view kind() const override { return kKind; }
  Shape output_shape(const Shape& input) const override;
  // Throws DataError for an id that is not an integer in [0, vocab), naming the id and its place.
  void forward(const Tensor& input, Tensor& output, const ForwardContext& context) override;
  // weight.grad[id] += grad_output row, except for padding_idx. Ids have no gradient: grad_input is
  // resized and, when input_grad_needed(), zero.
  void backward(const Tensor& input, const Tensor& output, const Tensor& grad_output,
                Tensor& grad_input) override;
  std::span<Parameter> parameters() override { return parameters_; }

  const EmbeddingSpec& spec() const { return spec_; }

 private:
  std::string name_;
  EmbeddingSpec spec_;
  std::vector<Parameter> parameters_;  // weight (vocab, dim)
  std::vector<Index> ids_;             // the ids of the last forward, checked
};

// Options: vocab (required, >= 1), dim (required, >= 1), padding_idx (optional, in [0, vocab)).
std::unique_ptr<Layer> make_embedding(Options& options, const LayerBuildContext& context);

}  // namespace dlrun
