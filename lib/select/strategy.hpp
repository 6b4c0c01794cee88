// Search strategies: where the next trial goes. A strategy sees points and scores only, never
// training, so it is testable on synthetic objectives. Proposals are pure functions of the trial
// number, the seed and the finished trials the strategy is allowed to see, which is what makes a
// search give the same trials for any --jobs.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "config/config.hpp"
#include "select/search_space.hpp"

namespace dlrun {

// A finished trial as strategies see it. score: higher is better (a minimised metric negated);
// failed trials have no score.
struct Observation {
  Point point;
  double score = 0.0;
  bool failed = false;
};

// With a scheduler: the finished evaluations by budget (epochs), each budget's in the order they
// finished (bracket by bracket, trial order within a rung). A trial promoted through rungs of 1, 3
// and 9 epochs has an observation at each.
using BudgetHistory = std::map<Index, std::vector<Observation>>;

class Strategy {
 public:
  virtual ~Strategy() = default;
  // How many trials the search runs: search.trials, or the number of grid points.
  virtual Index trial_count() const = 0;
  // Trial `trial` (1-based) waits for trials 1 .. sees_before(trial) - 1 to finish, and propose()
  // gets exactly those, in trial order. 1 means it depends on no result (grid, random).
  virtual Index sees_before(Index /*trial*/) const { return 1; }
  virtual Point propose(Index trial, std::span<const Observation> history) = 0;
  // With a scheduler: the points of the trials that start one bracket, proposed when it starts,
  // from every evaluation finished by then. Grid and random ignore the results (propose(trial,
  // {}) each); bayes proposes as BOHB does (select/bohb.hpp).
  virtual std::vector<Point> propose_bracket(std::span<const Index> trials, const BudgetHistory& finished);
};

// Random search's point for trial `trial`: drawn from Rng::for_stream(seed, "search", trial), so it
// depends on nothing else. Bayes's start-up trials and BOHB's random trials are these points too.
Point random_point(const SearchSpace& space, std::uint64_t seed, Index trial);

// Bayes (either model): the start-up trials when the config does not set them: a quarter of the
// trial budget, at least 1 and at most 10 (Optuna's n_startup_trials, meant for budgets of
// hundreds of trials). With 10 of 20 trials random, the model would steer only half of a small
// search.
Index default_startup_trials(Index trials);
// Bayes: what trial `trial` sees (Strategy::sees_before): nothing during the start-up, then the
// trials before its batch of `config.batch`.
Index bayes_sees_before(Index trial, const BayesConfig& config);

// Every point of the grid, in order: the last dimension varies fastest. Throws ConfigError at a
// dimension's key when it is numeric without grid points.
std::vector<Point> grid_points(const SearchSpace& space);

// The strategy `search.strategy` names. Random draws of trial k come from
// Rng::for_stream(seed, "search", k), so they do not depend on other trials.
std::unique_ptr<Strategy> make_strategy(const SearchConfig& config, const SearchSpace& space,
                                        std::uint64_t seed);

}  // namespace dlrun
