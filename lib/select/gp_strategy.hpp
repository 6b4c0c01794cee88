// `strategy: bayes` with `bayes.model: gp` (the default): Gaussian-process Bayesian optimisation
// with expected improvement (Jones, Schonlau and Welch, "Efficient Global Optimization of Expensive
// Black-Box Functions", 1998; Snoek, Larochelle and Adams, "Practical Bayesian Optimization of
// Machine Learning Algorithms", NeurIPS 2012). docs/search.md describes every step.
//
// After the start-up trials (random's), each proposal: encodes the finished trials in the unit cube
// (numeric dimensions scaled on their model interval, choices one-hot), maps their scores through
// the Gaussian copula (normal quantiles of their ranks; failed trials rank last), fits the kernel
// (gaussian_process.hpp), and proposes the point with the largest expected improvement among
// random points, perturbations of the best trials and a local refinement, every candidate rounded
// to the values the trial would train. Trials of one batch (`bayes.batch`) see the same finished
// trials; each later member of the batch adds the earlier members as observations at the model's
// mean (the "kriging believer"), so a batch spreads out. Proposals depend only on the seed, the
// trial number and the history: the same trials for any --jobs.
#pragma once

#include "select/strategy.hpp"

namespace dlrun {

class GpStrategy final : public Strategy {
 public:
  GpStrategy(const SearchSpace& space, Index trials, const BayesConfig& config, std::uint64_t seed);
  Index trial_count() const override { return trials_; }
  Index sees_before(Index trial) const override { return bayes_sees_before(trial, config_); }
  Point propose(Index trial, std::span<const Observation> history) override;
  // BOHB (select/bohb.hpp): the model's trials of a bracket form one batch, from every budget's
  // evaluations with the budget as one more input, seeking improvement at BOHB's budget.
  std::vector<Point> propose_bracket(std::span<const Index> trials, const BudgetHistory& finished) override;

 private:
  // What the model is fitted to: evaluations (at least one completed) and, with a scheduler, the
  // budget coordinate of each (log scale, the smallest budget 0, the largest 1).
  struct Evaluations {
    std::vector<Observation> observations;
    std::vector<double> budgets;  // empty: no budget input (no scheduler)
    double target_budget = 1.0;   // where improvement is sought
    std::vector<Point> taken;     // never proposed again
  };
  // The model's points for `trials`, one batch: each after the earlier ones were added at the
  // model's mean (at the target budget).
  std::vector<Point> propose_batch(std::span<const Index> trials, std::span<const Observation> history) const;
  std::vector<Point> propose_batch(std::span<const Index> trials, const Evaluations& evaluations) const;

  const SearchSpace& space_;
  Index trials_;
  BayesConfig config_;
  std::uint64_t seed_;
};

// Scores mapped through the Gaussian copula: the normal quantile of (rank - 0.5) / n, ties sharing
// their mean rank; NaN (failed) ranks below every number. Robust to outliers (a diverged or
// untrained configuration's huge loss) while keeping the order, which is all that selection uses.
std::vector<double> copula_transform(const std::vector<double>& scores);

}  // namespace dlrun
