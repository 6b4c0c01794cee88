// FTRL-Proximal (McMahan et al. 2013, "Ad Click Prediction: a View from the Trenches",
// Algorithm 1), per coordinate, as Keras's Ftrl optimizer applies it (tf.raw_ops.ApplyFtrlV2):
//   g_shrink  = g + 2 * l2_shrinkage * w
//   n_new     = n + g^2
//   z        += g_shrink - (n_new^(-p) - n^(-p)) / lr * w           (p = learning_rate_power)
//   quadratic = n_new^(-p) / lr + 2 * (l2 + beta / (2 * lr))
//   w         = (clip(z, -l1, l1) - z) / quadratic                   (0 where |z| <= l1)
// torch has no FTRL; tests compare with a numpy transcription of these formulas.
#pragma once

#include <memory>

#include "optim/elementwise_optimizer.hpp"

namespace dlrun {

struct FtrlSpec {
  double lr = 1e-3;
  double learning_rate_power = -0.5;
  double initial_accumulator_value = 0.1;
  double l1_regularization_strength = 0.0;
  double l2_regularization_strength = 0.0;
  double l2_shrinkage_regularization_strength = 0.0;
  double beta = 0.0;
};

// State: "<param>.accumulator" (n, from initial_accumulator_value) and "<param>.linear" (z).
// Note that the update sets w from z: parameters start from their initial values but the first
// step already replaces them by the FTRL solution, as in Keras.
class Ftrl final : public ElementwiseOptimizer {
 public:
  Ftrl(const FtrlSpec& spec, std::vector<ParameterRef> parameters);
  std::string_view type() const override { return "ftrl"; }

 private:
  void update(std::size_t index, std::span<float> value, std::span<const float> grad) override;
  FtrlSpec spec_;
  std::vector<Tensor> accumulator_;
  std::vector<Tensor> linear_;
};

// Reads lr (> 0), learning_rate_power (<= 0), initial_accumulator_value, l1_regularization_strength,
// l2_regularization_strength, l2_shrinkage_regularization_strength, beta (each >= 0).
FtrlSpec read_ftrl_spec(Options& options);
std::unique_ptr<Optimizer> make_ftrl(Options& options, std::vector<ParameterRef> parameters);

}  // namespace dlrun
