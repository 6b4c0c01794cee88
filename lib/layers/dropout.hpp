// Inverted dropout (Srivastava et al. 2014, as PyTorch's nn.Dropout): in Mode::train each element is
// kept with probability 1 - rate and scaled by 1 / (1 - rate), so eval is the identity.
#pragma once

#include <memory>
#include <string>

#include "layers/layer.hpp"
#include "layers/registry.hpp"

namespace dlrun {

class Dropout final : public Layer {
 public:
  static constexpr std::string_view kKind = "dropout";

  // rate in [0, 1); checked by the factory, required here.
  Dropout(double rate, std::string name);

  std::string_view kind() const override { return kKind; }
  Shape output_shape(const Shape& input) const override;
  // Mode::train with rate > 0 draws the mask from context.rng (required then): one number from it
  // seeds the streams of fixed chunks of elements, drawn in parallel.
  void forward(const Tensor& input, Tensor& output, const ForwardContext& context) override;
  // Uses the mask of the last forward(); the identity after an eval forward.
  void backward(const Tensor& input, const Tensor& output, const Tensor& grad_output,
                Tensor& grad_input) override;

  double rate() const { return rate_; }
  // The last train-mode mask: 0 where dropped, 1 / (1 - rate) where kept.
  const Tensor& mask() const { return mask_; }

 private:
  double rate_;
  std::string name_;
  Tensor mask_;          // member buffer: no allocation per batch
  bool masked_ = false;  // whether the last forward applied mask_
};

// Registry factory for `type: dropout` (rate, default 0.5, in [0, 1)).
std::unique_ptr<Layer> make_dropout(Options& options, const LayerBuildContext& context);

}  // namespace dlrun
