#include "select/tpe.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <numeric>

#include "select/bohb.hpp"
#include "select/gaussian_process.hpp"

namespace dlrun {

ParzenEstimator::ParzenEstimator(std::vector<double> values, double low, double high)
    : low_(low), high_(high) {
  const double range = high - low;
  const double prior_mean = 0.5 * (low + high);
  const std::size_t observed = values.size();
  values.push_back(prior_mean);
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  // Bandwidths as hyperopt's adaptive_parzen_normal (and Optuna's default, consider_endpoints
  // false): each value's larger gap to its neighbouring values, where a value at either end of the
  // sorted list uses its one inner neighbour only. The bounds are not neighbours: with them, a good
  // value near a bound (a learning rate near its lower end) got a component as wide as its distance
  // to the bound, and l(x) stayed nearly flat. Clipped to [range / min(100, n + 1), range] (the
  // "magic clip"); a single observation gets half the range, as in hyperopt.
  const double min_sigma = range / std::min(100.0, static_cast<double>(n + 1));
  bool prior_done = false;
  for (std::size_t i = 0; i < n; ++i) {
    double sigma = range;
    if (!prior_done && values[i] == prior_mean) {
      prior_done = true;  // the prior is wide: every region keeps some density
    } else if (observed == 1) {
      sigma = 0.5 * range;
    } else {
      const double left = i > 0 ? values[i] - values[i - 1] : 0.0;
      const double right = i + 1 < n ? values[i + 1] - values[i] : 0.0;
      sigma = std::clamp(std::max(left, right), min_sigma, range);
    }
    means_.push_back(values[i]);
    sigmas_.push_back(sigma);
  }
}

ParzenEstimator::ParzenEstimator(const std::vector<double>& indices, std::size_t categories)
    : categorical_(true), probabilities_(categories, 1.0 / static_cast<double>(categories)) {
  // The prior weighs as much as one observation, spread evenly over the categories (hyperopt's
  // counts + prior_weight * p, Optuna's prior_weight / n_choices): with one count per category the
  // few good trials of a small budget barely moved l away from uniform.
  for (const double index : indices) probabilities_[static_cast<std::size_t>(index)] += 1.0;
  const double total = std::accumulate(probabilities_.begin(), probabilities_.end(), 0.0);
  for (double& p : probabilities_) p /= total;
}

double ParzenEstimator::sample(Rng& rng) const {
  if (categorical_) {
    double u = rng.uniform();
    for (std::size_t c = 0; c < probabilities_.size(); ++c) {
      if (u < probabilities_[c]) return static_cast<double>(c);
      u -= probabilities_[c];
    }
    return static_cast<double>(probabilities_.size() - 1);
  }
  const std::size_t component = static_cast<std::size_t>(rng.below(static_cast<Index>(means_.size())));
  // Rejection sampling of the truncated normal; a component far outside the bounds (never the
  // case here: means lie inside) would fall back to clamping after many tries.
  for (int attempt = 0; attempt < 100; ++attempt) {
    const double y = means_[component] + sigmas_[component] * rng.normal();
    if (y >= low_ && y <= high_) return y;
  }
  return std::clamp(means_[component], low_, high_);
}

double ParzenEstimator::log_density(double x) const {
  if (categorical_) return std::log(probabilities_[static_cast<std::size_t>(x)]);
  double density = 0.0;
  for (std::size_t i = 0; i < means_.size(); ++i) {
    const double sigma = sigmas_[i];
    const double mass = normal_cdf((high_ - means_[i]) / sigma) - normal_cdf((low_ - means_[i]) / sigma);
    const double z = (x - means_[i]) / sigma;
    density += std::exp(-0.5 * z * z) / (sigma * std::sqrt(2.0 * std::numbers::pi) * std::max(mass, 1e-12));
  }
  density /= static_cast<double>(means_.size());
  return std::log(std::max(density, std::numeric_limits<double>::min()));
}

TpeStrategy::TpeStrategy(const SearchSpace& space, Index trials, const BayesConfig& config,
                         std::uint64_t seed)
    : space_(space), trials_(trials), config_(config), seed_(seed) {
  if (config_.startup_trials <= 0) config_.startup_trials = default_startup_trials(trials);
}

Index TpeStrategy::sees_before(Index trial) const {
  return bayes_sees_before(trial, config_);
}

Point TpeStrategy::propose(Index trial, std::span<const Observation> history) {
  const bool any_completed =
      std::any_of(history.begin(), history.end(), [](const Observation& o) { return !o.failed; });
  // The start-up trials are the random strategy's trials (same stream), so bayes and random
  // begin alike and differ only where the model steers.
  if (trial <= config_.startup_trials || !any_completed) return random_point(space_, seed_, trial);
  return model_point(trial, history);
}

std::vector<Point> TpeStrategy::propose_bracket(std::span<const Index> trials,
                                                const BudgetHistory& finished) {
  return bohb_bracket(trials, finished, space_, seed_, [&](std::span<const Index> modelled, Index budget) {
    std::vector<Point> points;
    for (const Index trial : modelled) points.push_back(model_point(trial, finished.at(budget)));
    return points;
  });
}

Point TpeStrategy::model_point(Index trial, std::span<const Observation> history) const {
  std::vector<const Observation*> completed;
  for (const Observation& observation : history) {
    if (!observation.failed) completed.push_back(&observation);
  }
  std::stable_sort(completed.begin(), completed.end(),
                   [](const Observation* a, const Observation* b) { return a->score > b->score; });
  // ceil(gamma * n) good trials, capped at 25 as in Optuna, so that long searches keep l sharp.
  const auto good_count = static_cast<std::size_t>(
      std::clamp(std::ceil(config_.gamma * static_cast<double>(completed.size())), 1.0, 25.0));
  std::vector<const Observation*> good(completed.begin(), completed.begin() + good_count);
  std::vector<const Observation*> bad(completed.begin() + good_count, completed.end());
  for (const Observation& observation : history) {
    if (observation.failed) bad.push_back(&observation);  // failures count against their region
  }

  std::vector<ParzenEstimator> l, g;
  for (std::size_t d = 0; d < space_.dimensions.size(); ++d) {
    const Dimension& dimension = space_.dimensions[d];
    auto values_of = [&](const std::vector<const Observation*>& group) {
      std::vector<double> values;
      for (const Observation* o : group) {
        values.push_back(dimension.is_numeric() ? to_model_scale(dimension, o->point[d]) : o->point[d]);
      }
      return values;
    };
    if (dimension.is_numeric()) {
      const ModelBounds bounds = model_bounds(dimension);
      l.emplace_back(values_of(good), bounds.low, bounds.high);
      g.emplace_back(values_of(bad), bounds.low, bounds.high);
    } else {
      l.emplace_back(values_of(good), dimension.choices.size());
      g.emplace_back(values_of(bad), dimension.choices.size());
    }
  }

  Rng rng = Rng::for_stream(seed_, "tpe", static_cast<std::uint64_t>(trial));
  Point best;
  double best_ratio = -std::numeric_limits<double>::infinity();
  for (Index c = 0; c < config_.candidates; ++c) {
    Point candidate;
    double ratio = 0.0;
    for (std::size_t d = 0; d < space_.dimensions.size(); ++d) {
      const Dimension& dimension = space_.dimensions[d];
      double y = l[d].sample(rng);
      if (dimension.is_numeric()) {
        // Densities are compared where the trial will actually be: the written (rounded) value.
        const double x = from_model_scale(dimension, y);
        y = to_model_scale(dimension, x);
        candidate.push_back(x);
      } else {
        candidate.push_back(y);
      }
      ratio += l[d].log_density(y) - g[d].log_density(y);
    }
    if (ratio > best_ratio) {
      best_ratio = ratio;
      best = std::move(candidate);
    }
  }
  return best;
}

}  // namespace dlrun
