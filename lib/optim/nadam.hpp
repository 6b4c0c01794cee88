// NAdam: Adam with Nesterov momentum and the momentum-decay schedule of Dozat (2016), as
// torch.optim.NAdam (https://pytorch.org/docs/1.13/generated/torch.optim.NAdam.html).
//
// Note: torch 1.13's default (single-tensor) NAdam multiplies mu twice into mu_product_next; its
// foreach path, the documentation and torch >= 2.0 use mu_product * mu_next, and so does dlrun.
#pragma once

#include <memory>

#include "optim/elementwise_optimizer.hpp"

namespace dlrun {

struct NadamSpec {
  double lr = 2e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum_decay = 4e-3;
};

// State: "<param>.exp_avg", "<param>.exp_avg_sq"; scalars "step" and "<param>.mu_product" (the
// product of the momentum coefficients so far, kept in float32 as torch keeps it).
class Nadam final : public ElementwiseOptimizer {
 public:
  Nadam(const NadamSpec& spec, std::vector<ParameterRef> parameters);
  std::string_view type() const override { return "nadam"; }

 private:
  void update(std::size_t index, std::span<float> value, std::span<const float> grad) override;
  void extra_scalars(std::map<std::string, double>& scalars) const override;
  void set_extra_scalars(const std::map<std::string, double>& scalars) override;
  NadamSpec spec_;
  std::vector<Tensor> exp_avg_;
  std::vector<Tensor> exp_avg_sq_;
  std::vector<double> mu_product_;
};

// Reads lr (> 0), betas, eps (> 0), weight_decay (>= 0), momentum_decay (>= 0).
NadamSpec read_nadam_spec(Options& options);
std::unique_ptr<Optimizer> make_nadam(Options& options, std::vector<ParameterRef> parameters);

}  // namespace dlrun
