#include "compress/prune_schedule.hpp"

#include <algorithm>
#include <cmath>

namespace dlrun {

PruneSteps prune_steps(const PruneConfig& config, Index steps_per_epoch) {
  const auto per_epoch = static_cast<double>(steps_per_epoch);
  PruneSteps steps;
  steps.start = std::llround(config.start_epoch * per_epoch);
  steps.end = std::max(steps.start, static_cast<Index>(std::llround(config.end_epoch * per_epoch)));
  steps.every = std::max<Index>(
      1, config.frequency_unit == "epochs" ? config.frequency * steps_per_epoch : config.frequency);
  return steps;
}

double scheduled_sparsity(const PruneConfig& config, Index global_step, Index steps_per_epoch) {
  const PruneSteps steps = prune_steps(config, steps_per_epoch);
  if (global_step < steps.start) return config.initial_sparsity;
  if (global_step >= steps.end) return config.final_sparsity;
  const double progress =
      static_cast<double>(global_step - steps.start) / static_cast<double>(steps.end - steps.start);
  const double remaining = 1.0 - progress;
  return config.final_sparsity +
         (config.initial_sparsity - config.final_sparsity) * remaining * remaining * remaining;
}

bool is_pruning_step(const PruneConfig& config, Index global_step, Index steps_per_epoch) {
  const PruneSteps steps = prune_steps(config, steps_per_epoch);
  if (global_step < steps.start || global_step > steps.end) return false;
  return (global_step - steps.start) % steps.every == 0 || global_step == steps.end;
}

}  // namespace dlrun
