// RMSprop (Hinton's lecture 6e), optionally centered (Graves 2013) and with momentum, as
// torch.optim.RMSprop (https://pytorch.org/docs/1.13/generated/torch.optim.RMSprop.html). Note
// that eps is added outside the square root, as in torch (Keras adds it inside).
#pragma once

#include <memory>

#include "optim/elementwise_optimizer.hpp"

namespace dlrun {

struct RmspropSpec {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
};

// State: "<param>.square_avg"; "<param>.momentum_buffer" when momentum > 0; "<param>.grad_avg"
// when centered.
class Rmsprop final : public ElementwiseOptimizer {
 public:
  Rmsprop(const RmspropSpec& spec, std::vector<ParameterRef> parameters);
  std::string_view type() const override { return "rmsprop"; }

 private:
  void update(std::size_t index, std::span<float> value, std::span<const float> grad) override;
  RmspropSpec spec_;
  std::vector<Tensor> square_avg_;
  std::vector<Tensor> momentum_buffer_;
  std::vector<Tensor> grad_avg_;
};

// Reads lr (> 0), alpha (in [0, 1]), eps (> 0), weight_decay (>= 0), momentum (>= 0), centered.
RmspropSpec read_rmsprop_spec(Options& options);
std::unique_ptr<Optimizer> make_rmsprop(Options& options, std::vector<ParameterRef> parameters);

}  // namespace dlrun
