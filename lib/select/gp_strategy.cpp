#include "select/gp_strategy.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "select/bohb.hpp"
#include "select/gaussian_process.hpp"

namespace dlrun {
namespace {

// The acquisition search, per proposal: random points of the space, perturbations of the best
// trials at several scales, then hill climbing from the best candidates. A proposal costs a few
// thousand model predictions, milliseconds against a trial's training.
constexpr int kRandomCandidates = 1000;
constexpr std::size_t kLocalCentres = 5;
constexpr int kPerturbationsPerCentre = 100;
constexpr double kPerturbationScales[] = {0.01, 0.03, 0.1, 0.3};
constexpr double kChoiceResample = 0.2;  // chance that a perturbation redraws a choice
constexpr std::size_t kRefinedCandidates = 3;
constexpr int kRefineRounds = 3;
constexpr int kRefineSteps = 50;

// A point in model coordinates: per numeric dimension a position in [0, 1] of its model interval,
// per choice the index.
using Coordinates = std::vector<double>;

class Encoding {
 public:
  // with_budget: one more column (a group of its own) for the budget an evaluation ran to (BOHB).
  Encoding(const SearchSpace& space, bool with_budget) : space_(space), with_budget_(with_budget) {
    for (std::size_t d = 0; d < space.dimensions.size(); ++d) {
      const Dimension& dimension = space.dimensions[d];
      const std::size_t width = dimension.is_numeric() ? 1 : dimension.choices.size();
      for (std::size_t c = 0; c < width; ++c) group_of_column_.push_back(d);
    }
    if (with_budget_) group_of_column_.push_back(space.dimensions.size());
  }

  std::size_t columns() const { return group_of_column_.size(); }
  std::size_t groups() const { return space_.dimensions.size() + (with_budget_ ? 1 : 0); }
  const std::vector<std::size_t>& group_of_column() const { return group_of_column_; }
  // The budget coordinate (in [0, 1]) that append_row writes from now on.
  void set_budget(double u) { budget_ = u; }

  Coordinates coordinates(const Point& point) const {
    Coordinates u(point.size());
    for (std::size_t d = 0; d < point.size(); ++d) {
      const Dimension& dimension = space_.dimensions[d];
      if (!dimension.is_numeric()) {
        u[d] = point[d];
        continue;
      }
      const ModelBounds bounds = model_bounds(dimension);
      u[d] = std::clamp((to_model_scale(dimension, point[d]) - bounds.low) / (bounds.high - bounds.low), 0.0,
                        1.0);
    }
    return u;
  }

  Point point(const Coordinates& u) const {
    Point point(u.size());
    for (std::size_t d = 0; d < u.size(); ++d) {
      const Dimension& dimension = space_.dimensions[d];
      if (!dimension.is_numeric()) {
        point[d] = u[d];
        continue;
      }
      const ModelBounds bounds = model_bounds(dimension);
      point[d] =
          from_model_scale(dimension, bounds.low + std::clamp(u[d], 0.0, 1.0) * (bounds.high - bounds.low));
    }
    return point;
  }

  // The model's input row: numeric coordinates as they are, choices one-hot.
  void append_row(const Point& point, std::vector<double>& row) const {
    const Coordinates u = coordinates(point);
    for (std::size_t d = 0; d < u.size(); ++d) {
      const Dimension& dimension = space_.dimensions[d];
      if (dimension.is_numeric()) {
        row.push_back(u[d]);
      } else {
        for (std::size_t c = 0; c < dimension.choices.size(); ++c)
          row.push_back(static_cast<double>(c) == u[d] ? 1.0 : 0.0);
      }
    }
    if (with_budget_) row.push_back(budget_);
  }

  Coordinates random(Rng& rng) const {
    Coordinates u(space_.dimensions.size());
    for (std::size_t d = 0; d < u.size(); ++d) {
      const Dimension& dimension = space_.dimensions[d];
      u[d] = dimension.is_numeric()
                 ? rng.uniform()
                 : static_cast<double>(rng.below(static_cast<Index>(dimension.choices.size())));
    }
    return u;
  }

  Coordinates perturb(const Coordinates& centre, double scale, Rng& rng) const {
    Coordinates u = centre;
    for (std::size_t d = 0; d < u.size(); ++d) {
      const Dimension& dimension = space_.dimensions[d];
      if (dimension.is_numeric()) {
        u[d] = std::clamp(u[d] + scale * rng.normal(), 0.0, 1.0);
      } else if (rng.uniform() < kChoiceResample) {
        u[d] = static_cast<double>(rng.below(static_cast<Index>(dimension.choices.size())));
      }
    }
    return u;
  }

 private:
  const SearchSpace& space_;
  bool with_budget_ = false;
  double budget_ = 1.0;
  std::vector<std::size_t> group_of_column_;
};

struct Candidate {
  Point point;
  Coordinates u;
  double improvement = -1.0;
  double optimism = -std::numeric_limits<double>::infinity();  // mean + sd, breaks ties of EI 0
  bool better_than(const Candidate& other) const {
    if (improvement != other.improvement) return improvement > other.improvement;
    return optimism > other.optimism;
  }
};

// The candidate with the largest expected improvement over `best_mean` (the best posterior mean
// at the data points: the plug-in for noisy observations), never a point already in `taken`;
// the local search starts around `centres` (the best data points, best first).
Point maximise_improvement(const GaussianProcess& gp, const Encoding& encoding,
                           const std::vector<Point>& taken, const std::vector<Point>& centres,
                           double best_mean, Rng& rng) {
  std::vector<double> row;
  auto evaluate = [&](const Coordinates& u) {
    Candidate candidate{encoding.point(u), {}, -1.0, -std::numeric_limits<double>::infinity()};
    if (std::find(taken.begin(), taken.end(), candidate.point) != taken.end()) return candidate;
    candidate.u = encoding.coordinates(candidate.point);  // where the rounded point really is
    row.clear();
    encoding.append_row(candidate.point, row);
    const GaussianProcess::Prediction prediction = gp.predict(row);
    candidate.improvement = expected_improvement(prediction.mean, prediction.variance, best_mean);
    candidate.optimism = prediction.mean + std::sqrt(prediction.variance);
    return candidate;
  };

  std::vector<Candidate> candidates;
  for (int i = 0; i < kRandomCandidates; ++i) candidates.push_back(evaluate(encoding.random(rng)));
  // Around the best data points, at every scale.
  for (const Point& centre_point : centres) {
    const Coordinates centre = encoding.coordinates(centre_point);
    for (int i = 0; i < kPerturbationsPerCentre; ++i) {
      const double scale = kPerturbationScales[static_cast<std::size_t>(i) % std::size(kPerturbationScales)];
      candidates.push_back(evaluate(encoding.perturb(centre, scale, rng)));
    }
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) { return a.better_than(b); });
  // Hill climbing from the best few, with shrinking steps.
  const std::size_t refined = std::min(kRefinedCandidates, candidates.size());
  for (std::size_t k = 0; k < refined; ++k) {
    Candidate current = candidates[k];
    if (current.improvement < 0.0) break;  // only taken points so far
    double scale = 0.05;
    for (int round = 0; round < kRefineRounds; ++round, scale *= 0.4) {
      for (int step = 0; step < kRefineSteps; ++step) {
        Candidate next = evaluate(encoding.perturb(current.u, scale, rng));
        if (next.better_than(current)) current = std::move(next);
      }
    }
    candidates[k] = std::move(current);
  }
  const auto best = std::min_element(candidates.begin(), candidates.end(),
                                     [](const Candidate& a, const Candidate& b) { return a.better_than(b); });
  if (best->improvement < 0.0) return encoding.point(encoding.random(rng));  // every candidate taken
  return best->point;
}

}  // namespace

std::vector<double> copula_transform(const std::vector<double>& scores) {
  const std::size_t n = scores.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  auto key = [&](std::size_t i) {
    return std::isnan(scores[i]) ? -std::numeric_limits<double>::infinity() : scores[i];
  };
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return key(a) < key(b); });
  std::vector<double> transformed(n);
  for (std::size_t begin = 0; begin < n;) {
    std::size_t end = begin + 1;
    while (end < n && key(order[end]) == key(order[begin])) ++end;
    const double rank = 0.5 * static_cast<double>(begin + end - 1) + 1.0;  // mean 1-based rank of the ties
    const double value = normal_quantile((rank - 0.5) / static_cast<double>(n));
    for (std::size_t i = begin; i < end; ++i) transformed[order[i]] = value;
    begin = end;
  }
  return transformed;
}

GpStrategy::GpStrategy(const SearchSpace& space, Index trials, const BayesConfig& config, std::uint64_t seed)
    : space_(space), trials_(trials), config_(config), seed_(seed) {
  if (config_.startup_trials <= 0) config_.startup_trials = default_startup_trials(trials);
}

Point GpStrategy::propose(Index trial, std::span<const Observation> history) {
  const bool any_completed =
      std::any_of(history.begin(), history.end(), [](const Observation& o) { return !o.failed; });
  // The start-up trials are the random strategy's trials (same stream), so bayes and random
  // begin alike and differ only where the model steers.
  if (trial <= config_.startup_trials || !any_completed) return random_point(space_, seed_, trial);
  // The batch's earlier members are proposed again (they are pure functions of the same history).
  std::vector<Index> batch;
  for (Index t = sees_before(trial); t <= trial; ++t) batch.push_back(t);
  return propose_batch(batch, history).back();
}

std::vector<Point> GpStrategy::propose_bracket(std::span<const Index> trials, const BudgetHistory& finished) {
  return bohb_bracket(trials, finished, space_, seed_, [&](std::span<const Index> modelled, Index budget) {
    // Every evaluation, at its budget's coordinate: log(budget / smallest) / log(largest / smallest).
    const double low = std::log(static_cast<double>(finished.begin()->first));
    const double span = std::log(static_cast<double>(finished.rbegin()->first)) - low;
    auto coordinate = [&](Index b) {
      return span > 0.0 ? (std::log(static_cast<double>(b)) - low) / span : 0.0;
    };
    Evaluations evaluations;
    evaluations.target_budget = coordinate(budget);
    for (const auto& [b, observations] : finished) {
      for (const Observation& observation : observations) {
        evaluations.observations.push_back(observation);
        evaluations.budgets.push_back(coordinate(b));
        if (std::find(evaluations.taken.begin(), evaluations.taken.end(), observation.point) ==
            evaluations.taken.end())
          evaluations.taken.push_back(observation.point);
      }
    }
    return propose_batch(modelled, evaluations);
  });
}

std::vector<Point> GpStrategy::propose_batch(std::span<const Index> trials,
                                             std::span<const Observation> history) const {
  Evaluations evaluations;
  evaluations.observations.assign(history.begin(), history.end());
  for (const Observation& observation : history) evaluations.taken.push_back(observation.point);
  return propose_batch(trials, evaluations);
}

std::vector<Point> GpStrategy::propose_batch(std::span<const Index> trials,
                                             const Evaluations& evaluations) const {
  const bool with_budget = !evaluations.budgets.empty();
  Encoding encoding(space_, with_budget);
  GpData data;
  data.columns = encoding.columns();
  data.group_of_column = encoding.group_of_column();
  data.groups = encoding.groups();
  std::vector<double> scores;
  std::vector<Point> row_points;       // the point of each data row
  std::vector<std::size_t> at_target;  // the rows at the target budget (all without budgets)
  for (std::size_t i = 0; i < evaluations.observations.size(); ++i) {
    const Observation& observation = evaluations.observations[i];
    if (with_budget) encoding.set_budget(evaluations.budgets[i]);
    encoding.append_row(observation.point, data.inputs);
    scores.push_back(observation.failed ? std::numeric_limits<double>::quiet_NaN() : observation.score);
    row_points.push_back(observation.point);
    if (!with_budget || evaluations.budgets[i] == evaluations.target_budget) at_target.push_back(i);
  }
  data.targets = copula_transform(scores);
  const KernelParams params = fit_kernel(data);
  encoding.set_budget(evaluations.target_budget);  // candidates are scored at the target budget
  std::vector<Point> taken = evaluations.taken;

  // Each member after the earlier ones were added at the model's mean (the kriging believer).
  std::vector<Point> points;
  for (std::size_t i = 0; i < trials.size(); ++i) {
    const GaussianProcess gp(data, params);
    double best_mean = -std::numeric_limits<double>::infinity();
    for (const std::size_t r : at_target) best_mean = std::max(best_mean, gp.predict(data.row(r)).mean);
    std::vector<std::size_t> order = at_target;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return data.targets[a] > data.targets[b]; });
    std::vector<Point> centres;
    for (std::size_t k = 0; k < std::min(kLocalCentres, order.size()); ++k)
      centres.push_back(row_points[order[k]]);
    Rng rng = Rng::for_stream(seed_, "gp", static_cast<std::uint64_t>(trials[i]));
    points.push_back(maximise_improvement(gp, encoding, taken, centres, best_mean, rng));
    if (i + 1 == trials.size()) break;
    std::vector<double> row;
    encoding.append_row(points.back(), row);
    data.targets.push_back(gp.predict(row).mean);
    data.inputs.insert(data.inputs.end(), row.begin(), row.end());
    at_target.push_back(row_points.size());
    row_points.push_back(points.back());
    taken.push_back(points.back());
  }
  return points;
}

}  // namespace dlrun
