// Strategies on synthetic objectives (no training): random is reproducible and independent of the
// other trials; TPE finds better points than random within the same number of trials.
#include <doctest/doctest.h>

#include <cmath>

#include "config/sections.hpp"
#include "config/yaml_loader.hpp"
#include "select/strategy.hpp"
#include "select/tpe.hpp"

using namespace dlrun;

namespace {

SearchSpace space_of(const std::string& yaml) {
  return parse_search_space(*parse_yaml(yaml, "s.yaml").find("space"));
}

// A smooth objective with its optimum inside the space, to maximise: lr near 3e-3 (log scale),
// rate near 0.3, 64 units, and one bad choice among three.
const char* const kSpace =
    "space:\n"
    "  lr: {loguniform: [1.0e-5, 1.0]}\n"
    "  rate: {uniform: [0.0, 1.0]}\n"
    "  units: {int_log: [4, 512]}\n"
    "  act: {choice: [relu, tanh, sigmoid]}\n";

double objective(const Point& p) {
  const double lr = std::log10(p[0]) - std::log10(3e-3);
  const double rate = (p[1] - 0.3) * 3.0;
  const double units = std::log2(p[2]) - 6.0;
  const double act = p[3] == 2 ? 1.0 : (p[3] == 1 ? 0.3 : 0.0);
  return -(lr * lr + rate * rate + 0.5 * units * units + act);
}

// The best objective after `trials` sequential trials of `strategy_name`.
double best_after(const SearchSpace& space, const std::string& strategy_name, Index trials,
                  std::uint64_t seed) {
  SearchConfig config;
  config.strategy = strategy_name;
  config.trials = trials;
  config.bayes.startup_trials = 0;  // the default of a config without it: a quarter of the trials
  const auto strategy = make_strategy(config, space, seed);
  std::vector<Observation> history;
  double best = -1e300;
  for (Index t = 1; t <= trials; ++t) {
    const Index sees = strategy->sees_before(t);
    REQUIRE(sees <= t);
    const Point point = strategy->propose(t, std::span(history).first(static_cast<std::size_t>(sees - 1)));
    const double score = objective(point);
    best = std::max(best, score);
    history.push_back({point, score, false});
  }
  return best;
}

}  // namespace

TEST_CASE("random: the same seed gives the same trials, whatever ran before; another seed differs") {
  const SearchSpace space = space_of(kSpace);
  SearchConfig config;
  config.trials = 10;
  const auto a = make_strategy(config, space, 7);
  const auto b = make_strategy(config, space, 7);
  const auto c = make_strategy(config, space, 8);
  const Point third = a->propose(3, {});
  for (Index t = 10; t >= 1; --t) b->propose(t, {});  // in another order, with other calls between
  CHECK(b->propose(3, {}) == third);
  CHECK(c->propose(3, {}) != third);
  CHECK(a->propose(4, {}) != third);
}

TEST_CASE("bayes: start-up trials are random's, later ones come in batches from earlier results") {
  const SearchSpace space = space_of(kSpace);
  SearchConfig config;
  config.strategy = "bayes";
  config.trials = 20;
  config.bayes.startup_trials = 5;
  config.bayes.batch = 3;
  const auto tpe = make_strategy(config, space, 11);
  config.strategy = "random";
  const auto random = make_strategy(config, space, 11);
  for (Index t = 1; t <= 5; ++t) {
    CHECK(tpe->sees_before(t) == 1);
    CHECK(tpe->propose(t, {}) == random->propose(t, {}));
  }
  CHECK(tpe->sees_before(6) == 6);
  CHECK(tpe->sees_before(8) == 6);
  CHECK(tpe->sees_before(9) == 9);
  // A proposal depends only on the history it is given.
  std::vector<Observation> history;
  for (Index t = 1; t <= 5; ++t) {
    const Point p = random->propose(t, {});
    history.push_back({p, objective(p), t == 2});
  }
  CHECK(tpe->propose(7, history) == tpe->propose(7, history));
  CHECK(tpe->propose(7, history) != tpe->propose(8, history));
}

TEST_CASE("parzen estimator: density integrates to one over the bounds and samples stay inside") {
  const ParzenEstimator numeric({0.1, 0.15, 0.8}, 0.0, 1.0);
  double integral = 0.0;
  const int steps = 20000;
  for (int i = 0; i < steps; ++i) integral += std::exp(numeric.log_density((i + 0.5) / steps)) / steps;
  CHECK(integral == doctest::Approx(1.0).epsilon(1e-3));
  CHECK(numeric.log_density(0.12) > numeric.log_density(0.5));
  Rng rng(2);
  for (int i = 0; i < 1000; ++i) {
    const double x = numeric.sample(rng);
    CHECK(x >= 0.0);
    CHECK(x <= 1.0);
  }
  const ParzenEstimator categorical(std::vector<double>{2, 2, 0}, 3);
  // The prior is one count spread over the three categories: (2 + 1/3) / 4 and (1/3) / 4.
  CHECK(std::exp(categorical.log_density(2)) == doctest::Approx((2.0 + 1.0 / 3.0) / 4.0));
  CHECK(std::exp(categorical.log_density(1)) == doctest::Approx((1.0 / 3.0) / 4.0));
}

TEST_CASE("parzen estimator: the bounds are no neighbours, so values near a bound stay sharp") {
  // Two good values near the low end of [0, 10]: their bandwidth comes from their gap (0.5, clipped
  // up to range / 4 = 2.5), not from the distance to the bound or to the far end.
  const ParzenEstimator near_low({1.0, 1.5}, 0.0, 10.0);
  CHECK(std::exp(near_low.log_density(1.2)) > 4.0 * std::exp(near_low.log_density(9.0)));
  double integral = 0.0;
  const int steps = 20000;
  for (int i = 0; i < steps; ++i)
    integral += std::exp(near_low.log_density(10.0 * (i + 0.5) / steps)) * 10.0 / steps;
  CHECK(integral == doctest::Approx(1.0).epsilon(1e-3));
  // A single value gets half the range as its width (hyperopt), the prior the whole range.
  const ParzenEstimator single({2.0}, 0.0, 10.0);
  CHECK(single.log_density(2.0) > single.log_density(8.0));
}

TEST_CASE("bayes: the default start-up is a quarter of the trials, at least 1 and at most 10") {
  CHECK(default_startup_trials(20) == 5);
  CHECK(default_startup_trials(3) == 1);
  CHECK(default_startup_trials(30) == 8);
  CHECK(default_startup_trials(200) == 10);
  // A config without search.bayes.startup_trials gets that default; one that sets it, its value.
  const SearchSpace space = space_of(kSpace);
  const SearchConfig config =
      detail::parse_search(parse_yaml(std::string("strategy: bayes\ntrials: 20\n") + kSpace, "s.yaml"));
  const auto tpe = make_strategy(config, space, 3);
  CHECK(tpe->sees_before(5) == 1);
  CHECK(tpe->sees_before(6) == 6);
  const SearchConfig written = detail::parse_search(parse_yaml(
      std::string("strategy: bayes\ntrials: 20\nbayes: {startup_trials: 10}\n") + kSpace, "s.yaml"));
  CHECK(make_strategy(written, space, 3)->sees_before(10) == 1);
  CHECK(make_strategy(written, space, 3)->sees_before(11) == 11);
}

TEST_CASE("bayes (TPE) beats random on a synthetic objective, on average over seeds") {
  const SearchSpace space = space_of(kSpace);
  double random_total = 0.0;
  double tpe_total = 0.0;
  int tpe_wins = 0;
  const int seeds = 10;
  for (int seed = 1; seed <= seeds; ++seed) {
    const double random_best = best_after(space, "random", 40, static_cast<std::uint64_t>(seed));
    const double tpe_best = best_after(space, "bayes", 40, static_cast<std::uint64_t>(seed));
    random_total += random_best;
    tpe_total += tpe_best;
    if (tpe_best > random_best) ++tpe_wins;
  }
  MESSAGE("best after 40 trials, mean over ", seeds, " seeds: random ", random_total / seeds, ", bayes ",
          tpe_total / seeds, " (bayes better on ", tpe_wins, " seeds)");
  CHECK(tpe_total > random_total);
  CHECK(tpe_wins >= 6);
}

TEST_CASE("bayes (TPE) beats random within 20 trials (the issue's budget), with the default start-up") {
  const SearchSpace space = space_of(kSpace);
  double random_total = 0.0;
  double tpe_total = 0.0;
  int tpe_wins = 0;
  const int seeds = 20;
  for (int seed = 1; seed <= seeds; ++seed) {
    const double random_best = best_after(space, "random", 20, static_cast<std::uint64_t>(seed));
    const double tpe_best = best_after(space, "bayes", 20, static_cast<std::uint64_t>(seed));
    random_total += random_best;
    tpe_total += tpe_best;
    if (tpe_best > random_best) ++tpe_wins;
  }
  MESSAGE("best after 20 trials, mean over ", seeds, " seeds: random ", random_total / seeds, ", bayes ",
          tpe_total / seeds, " (bayes better on ", tpe_wins, " seeds)");
  CHECK(tpe_total > random_total);
  CHECK(tpe_wins >= 12);
}
