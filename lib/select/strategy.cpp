#include "select/strategy.hpp"

#include <algorithm>

#include "select/gp_strategy.hpp"
#include "select/tpe.hpp"

namespace dlrun {
namespace {

class GridStrategy final : public Strategy {
 public:
  explicit GridStrategy(std::vector<Point> points) : points_(std::move(points)) {}
  Index trial_count() const override { return static_cast<Index>(points_.size()); }
  Point propose(Index trial, std::span<const Observation> /*history*/) override {
    return points_.at(static_cast<std::size_t>(trial - 1));
  }

 private:
  std::vector<Point> points_;
};

class RandomStrategy final : public Strategy {
 public:
  RandomStrategy(const SearchSpace& space, Index trials, std::uint64_t seed)
      : space_(space), trials_(trials), seed_(seed) {}
  Index trial_count() const override { return trials_; }
  Point propose(Index trial, std::span<const Observation> /*history*/) override {
    return random_point(space_, seed_, trial);
  }

 private:
  const SearchSpace& space_;
  Index trials_;
  std::uint64_t seed_;
};

}  // namespace

std::vector<Point> Strategy::propose_bracket(std::span<const Index> trials,
                                             const BudgetHistory& /*finished*/) {
  std::vector<Point> points;
  for (const Index trial : trials) points.push_back(propose(trial, {}));
  return points;
}

Point random_point(const SearchSpace& space, std::uint64_t seed, Index trial) {
  Rng rng = Rng::for_stream(seed, "search", static_cast<std::uint64_t>(trial));
  return sample_uniform(space, rng);
}

Index default_startup_trials(Index trials) {
  return std::clamp<Index>((trials + 3) / 4, 1, 10);
}

Index bayes_sees_before(Index trial, const BayesConfig& config) {
  if (trial <= config.startup_trials) return 1;
  const Index batch = (trial - config.startup_trials - 1) / config.batch;
  return config.startup_trials + batch * config.batch + 1;
}

std::vector<Point> grid_points(const SearchSpace& space) {
  std::vector<std::size_t> sizes;
  for (const Dimension& dimension : space.dimensions) {
    if (!dimension.is_numeric()) {
      sizes.push_back(dimension.choices.size());
    } else if (!dimension.grid.empty()) {
      sizes.push_back(dimension.grid.size());
    } else {
      throw ConfigError(dimension.where, "search.space." + dimension.path +
                                             ": a grid search needs the points of a continuous dimension, "
                                             "e.g. {loguniform: [1.0e-4, 1.0e-1], grid: [1.0e-3, 1.0e-2]}");
    }
  }
  std::size_t total = 1;
  for (const std::size_t size : sizes) {
    total *= size;
    if (total > 100000) {
      throw ConfigError(space.dimensions.front().where,
                        "search.space: the grid has more than 100000 points; use strategy random or bayes");
    }
  }
  std::vector<Point> points;
  for (std::size_t flat = 0; flat < total; ++flat) {
    Point point(sizes.size());
    std::size_t rest = flat;
    for (std::size_t d = sizes.size(); d-- > 0;) {
      const std::size_t index = rest % sizes[d];
      rest /= sizes[d];
      const Dimension& dimension = space.dimensions[d];
      point[d] = dimension.is_numeric() ? dimension.grid[index] : static_cast<double>(index);
    }
    points.push_back(std::move(point));
  }
  return points;
}

std::unique_ptr<Strategy> make_strategy(const SearchConfig& config, const SearchSpace& space,
                                        std::uint64_t seed) {
  if (config.strategy == "grid") return std::make_unique<GridStrategy>(grid_points(space));
  if (config.strategy == "bayes" && config.bayes.model == "tpe")
    return std::make_unique<TpeStrategy>(space, config.trials, config.bayes, seed);
  if (config.strategy == "bayes")
    return std::make_unique<GpStrategy>(space, config.trials, config.bayes, seed);
  return std::make_unique<RandomStrategy>(space, config.trials, seed);
}

}  // namespace dlrun
