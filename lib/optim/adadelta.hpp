// Adadelta (Zeiler 2012) with a learning-rate factor, as torch.optim.Adadelta
// (https://pytorch.org/docs/1.13/generated/torch.optim.Adadelta.html).
#pragma once

#include <memory>

#include "optim/elementwise_optimizer.hpp"

namespace dlrun {

struct AdadeltaSpec {
  double lr = 1.0;
  double rho = 0.9;
  double eps = 1e-6;
  double weight_decay = 0.0;
};

// State: "<param>.square_avg" (running mean of g^2) and "<param>.acc_delta" (of the updates^2).
class Adadelta final : public ElementwiseOptimizer {
 public:
  Adadelta(const AdadeltaSpec& spec, std::vector<ParameterRef> parameters);
  std::string_view type() const override { return "adadelta"; }

 private:
  void update(std::size_t index, std::span<float> value, std::span<const float> grad) override;
  AdadeltaSpec spec_;
  std::vector<Tensor> square_avg_;
  std::vector<Tensor> acc_delta_;
};

// Reads lr (> 0), rho (in [0, 1]), eps (> 0), weight_decay (>= 0).
AdadeltaSpec read_adadelta_spec(Options& options);
std::unique_ptr<Optimizer> make_adadelta(Options& options, std::vector<ParameterRef> parameters);

}  // namespace dlrun
