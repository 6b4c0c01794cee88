// BOHB (Falkner, Klein and Hutter, "BOHB: Robust and Efficient Hyperparameter Optimization at
// Scale", ICML 2018, Algorithm 2): `strategy: bayes` with a scheduler. Hyperband's brackets and
// promotions stay as they are; only the new configurations of a bracket come from the model
// instead of uniform sampling. docs/search.md ("BOHB") explains the choices.
//
// For each trial starting a bracket: with probability 1/3 (rho, from the trial's own stream) it is
// random search's point for that trial; otherwise the model proposes it from the observations at
// the largest budget that has at least d + 3 completed ones (N_min + 2 with N_min = d + 1, d the
// number of dimensions). While no budget has that many, every trial is random. The model's
// trials of one bracket are proposed together, from the same observations, as one batch. The TPE
// models that budget's evaluations, as BOHB does; the gp models every budget's jointly, the
// budget being one more input, and seeks improvement at that budget (gp_strategy.hpp).
#pragma once

#include <functional>
#include <optional>

#include "select/strategy.hpp"

namespace dlrun {

inline constexpr double kBohbRandomFraction = 1.0 / 3.0;

// The budget BOHB models: the largest with at least `dimensions` + 3 completed evaluations;
// nullopt when no budget has enough.
std::optional<Index> bohb_model_budget(const BudgetHistory& finished, std::size_t dimensions);

// Whether BOHB draws trial `trial` at random (the fraction rho), from Rng::for_stream(seed, "bohb",
// trial): a function of the seed and the trial only, so it does not depend on --jobs or timing.
bool bohb_random_trial(std::uint64_t seed, Index trial);

// A model's points for `trials` (one batch), proposed for budget `budget` (bohb_model_budget's)
// from the finished evaluations the caller's model was given.
using ModelBatch = std::function<std::vector<Point>(std::span<const Index> trials, Index budget)>;

// The points of a bracket's trials under BOHB's rule, the model's from `model`.
std::vector<Point> bohb_bracket(std::span<const Index> trials, const BudgetHistory& finished,
                                const SearchSpace& space, std::uint64_t seed, const ModelBatch& model);

}  // namespace dlrun
