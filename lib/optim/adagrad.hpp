// Adagrad (Duchi et al. 2011) with learning-rate decay, as torch.optim.Adagrad
// (https://pytorch.org/docs/1.13/generated/torch.optim.Adagrad.html).
#pragma once

#include <memory>

#include "optim/elementwise_optimizer.hpp"

namespace dlrun {

struct AdagradSpec {
  double lr = 1e-2;
  double lr_decay = 0.0;
  double weight_decay = 0.0;
  double initial_accumulator_value = 0.0;
  double eps = 1e-10;
};

// State: "<param>.sum" (the accumulated squared gradients, starting at initial_accumulator_value).
class Adagrad final : public ElementwiseOptimizer {
 public:
  Adagrad(const AdagradSpec& spec, std::vector<ParameterRef> parameters);
  std::string_view type() const override { return "adagrad"; }

 private:
  void update(std::size_t index, std::span<float> value, std::span<const float> grad) override;
  AdagradSpec spec_;
  std::vector<Tensor> sum_;
};

// Reads lr (> 0), lr_decay, weight_decay, initial_accumulator_value (each >= 0), eps (> 0).
AdagradSpec read_adagrad_spec(Options& options);
std::unique_ptr<Optimizer> make_adagrad(Options& options, std::vector<ParameterRef> parameters);

}  // namespace dlrun
