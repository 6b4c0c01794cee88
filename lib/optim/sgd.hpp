// Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay, as
// torch.optim.SGD (https://pytorch.org/docs/1.13/generated/torch.optim.SGD.html).
#pragma once

#include <memory>

#include "optim/elementwise_optimizer.hpp"

namespace dlrun {

struct SgdSpec {
  double lr = 0.01;  // torch requires lr; dlrun defaults it to 0.01
  double momentum = 0.0;
  double dampening = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
};

// State: "<param>.momentum_buffer" when momentum > 0. As in torch, the buffer takes the first
// step's (decayed) gradient as it is, not (1 - dampening) times it; step_count() == 1 marks that.
class Sgd final : public ElementwiseOptimizer {
 public:
  Sgd(const SgdSpec& spec, std::vector<ParameterRef> parameters);
  std::string_view type() const override { return "sgd"; }

 private:
  void update(std::size_t index, std::span<float> value, std::span<const float> grad) override;
  SgdSpec spec_;
  std::vector<Tensor> momentum_buffer_;
};

// Reads lr (> 0, default 0.01), momentum (>= 0), dampening (>= 0), nesterov (needs momentum > 0 and
// dampening 0), weight_decay (>= 0). ConfigError at the offending key.
SgdSpec read_sgd_spec(Options& options);
std::unique_ptr<Optimizer> make_sgd(Options& options, std::vector<ParameterRef> parameters);

}  // namespace dlrun
