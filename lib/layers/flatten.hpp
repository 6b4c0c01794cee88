// Flatten: (N, d1, d2, ...) -> (N, d1*d2*...), keeping the row-major (NCHW) order, so a
// PyTorch nn.Flatten() followed by nn.Linear maps one to one onto flatten + dense.
#pragma once

#include <memory>
#include <string>

#include "layers/layer.hpp"
#include "layers/registry.hpp"

namespace dlrun {

class Flatten final : public Layer {
 public:
  static constexpr std::string_view kKind = "flatten";

  explicit Flatten(std::string name);

  std::string_view kind() const override { return kKind; }
  Shape output_shape(const Shape& input) const override;
  void forward(const Tensor& input, Tensor& output, const ForwardContext& context) override;
  void backward(const Tensor& input, const Tensor& output, const Tensor& grad_output,
                Tensor& grad_input) override;

 private:
  std::string name_;
};

// Registry factory for `type: flatten` (no options).
std::unique_ptr<Layer> make_flatten(Options& options, const LayerBuildContext& context);

}  // namespace dlrun
