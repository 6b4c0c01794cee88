// The Tree-structured Parzen Estimator (Bergstra, Bardenet, Bengio, Kégl, "Algorithms for
// Hyper-Parameter Optimization", NeurIPS 2011; the variant of hyperopt and Optuna), `strategy: bayes`.
//
// After `startup_trials` random trials (by default a quarter of the budget, at most 10), the
// finished trials are split by score: the best min(ceil(gamma * n), 25) are "good", the rest (and
// failed trials) "bad". Each dimension gets two Parzen
// estimators, l(x) over the good values and g(x) over the bad ones, in the transformed space (log for
// loguniform and int_log): a mixture of Gaussians truncated to the bounds, one per value, with a
// prior component (centre of the range, width of the range) and bandwidths from the distances to
// the neighbouring values (not to the bounds); a choice gets category frequencies plus a prior of
// one count spread over the categories. The next
// point is the best of `candidates` points drawn from l by l(x) / g(x) (the densities multiply over
// dimensions, which are modelled independently).
//
// Determinism under --jobs: trials are proposed in batches of `batch` after the start-up trials,
// every trial of a batch from the trials before the batch (all finished), with its own random
// stream. With batch 1 a trial waits for every earlier trial.
#pragma once

#include "select/strategy.hpp"

namespace dlrun {

// A one-dimensional density over a transformed interval [low, high], as l(x) and g(x) use.
class ParzenEstimator {
 public:
  // Numeric: Gaussians at `values` plus the prior, truncated to [low, high].
  ParzenEstimator(std::vector<double> values, double low, double high);
  // Categorical over `categories` values, from the observed indices.
  ParzenEstimator(const std::vector<double>& indices, std::size_t categories);

  double sample(Rng& rng) const;
  double log_density(double x) const;

 private:
  bool categorical_ = false;
  double low_ = 0.0, high_ = 0.0;
  std::vector<double> means_, sigmas_;  // numeric components (the prior included)
  std::vector<double> probabilities_;   // categorical
};

class TpeStrategy final : public Strategy {
 public:
  TpeStrategy(const SearchSpace& space, Index trials, const BayesConfig& config, std::uint64_t seed);
  Index trial_count() const override { return trials_; }
  Index sees_before(Index trial) const override;
  Point propose(Index trial, std::span<const Observation> history) override;
  // BOHB (select/bohb.hpp): each model trial of a bracket from the same history, by its own stream.
  std::vector<Point> propose_bracket(std::span<const Index> trials, const BudgetHistory& finished) override;

 private:
  // The best of `candidates` draws from l(x) by l(x) / g(x), from `history` (at least one completed).
  Point model_point(Index trial, std::span<const Observation> history) const;

  const SearchSpace& space_;
  Index trials_;
  BayesConfig config_;
  std::uint64_t seed_;
};

}  // namespace dlrun
