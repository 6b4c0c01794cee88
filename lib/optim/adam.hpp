// Adam with L2 weight decay added to the gradient (torch.optim.Adam) and AdamW with decoupled
// weight decay (torch.optim.AdamW), both with the AMSGrad variant. One class: the two differ only in
// where the decay enters.
//   https://pytorch.org/docs/1.13/generated/torch.optim.Adam.html
//   https://pytorch.org/docs/1.13/generated/torch.optim.AdamW.html
#pragma once

#include <memory>

#include "optim/elementwise_optimizer.hpp"

namespace dlrun {

struct AdamSpec {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // adamw: 1e-2
  bool amsgrad = false;
  bool decoupled = false;  // true: AdamW (param *= 1 - lr * weight_decay before the update)
};

// State: "<param>.exp_avg", "<param>.exp_avg_sq" and, with amsgrad, "<param>.max_exp_avg_sq".
class Adam final : public ElementwiseOptimizer {
 public:
  Adam(const AdamSpec& spec, std::vector<ParameterRef> parameters);
  std::string_view type() const override { return spec_.decoupled ? "adamw" : "adam"; }

 private:
  void update(std::size_t index, std::span<float> value, std::span<const float> grad) override;
  AdamSpec spec_;
  std::vector<Tensor> exp_avg_;
  std::vector<Tensor> exp_avg_sq_;
  std::vector<Tensor> max_exp_avg_sq_;
};

// `betas: [b1, b2]`, each in [0, 1); ConfigError at the key otherwise. Shared by adam, adamw, nadam.
void read_betas(Options& options, double& beta1, double& beta2);

// Reads lr (> 0), betas, eps (> 0), weight_decay (>= 0), amsgrad for adam (`decoupled` false) or
// adamw (true; weight_decay defaults to 1e-2).
AdamSpec read_adam_spec(Options& options, bool decoupled);
std::unique_ptr<Optimizer> make_adam(Options& options, std::vector<ParameterRef> parameters);
std::unique_ptr<Optimizer> make_adamw(Options& options, std::vector<ParameterRef> parameters);

}  // namespace dlrun
