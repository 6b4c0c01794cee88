#include "select/bohb.hpp"

#include <algorithm>

namespace dlrun {

std::optional<Index> bohb_model_budget(const BudgetHistory& finished, std::size_t dimensions) {
  const auto needed = static_cast<std::ptrdiff_t>(dimensions + 3);
  for (auto budget = finished.rbegin(); budget != finished.rend(); ++budget) {
    const std::vector<Observation>& observations = budget->second;
    const auto completed = std::count_if(observations.begin(), observations.end(),
                                         [](const Observation& o) { return !o.failed; });
    if (completed >= needed) return budget->first;
  }
  return std::nullopt;
}

bool bohb_random_trial(std::uint64_t seed, Index trial) {
  Rng rng = Rng::for_stream(seed, "bohb", static_cast<std::uint64_t>(trial));
  return rng.uniform() < kBohbRandomFraction;
}

std::vector<Point> bohb_bracket(std::span<const Index> trials, const BudgetHistory& finished,
                                const SearchSpace& space, std::uint64_t seed, const ModelBatch& model) {
  const std::optional<Index> budget = bohb_model_budget(finished, space.dimensions.size());
  std::vector<Index> modelled;
  if (budget) {
    for (const Index trial : trials) {
      if (!bohb_random_trial(seed, trial)) modelled.push_back(trial);
    }
  }
  const std::vector<Point> proposed = modelled.empty() ? std::vector<Point>{} : model(modelled, *budget);
  std::vector<Point> points;
  std::size_t next = 0;
  for (const Index trial : trials) {
    const bool from_model = next < modelled.size() && modelled[next] == trial;
    points.push_back(from_model ? proposed[next++] : random_point(space, seed, trial));
  }
  return points;
}

}  // namespace dlrun
