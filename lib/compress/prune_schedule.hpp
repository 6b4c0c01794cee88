// The gradual pruning schedule of Zhu & Gupta (2017), "To prune, or not to prune": the sparsity
// rises from initial to final along a cubic, fast at first while redundant weights abound and
// slowly at the end, and the masks are recomputed every `frequency` epochs or steps in between.
#pragma once

#include "config/config.hpp"

namespace dlrun {

// Steps are counted from the start of training (global steps); an epoch is steps_per_epoch steps.
struct PruneSteps {
  Index start = 0;  // start_epoch in steps
  Index end = 0;    // end_epoch in steps
  Index every = 1;  // frequency in steps
};
PruneSteps prune_steps(const PruneConfig& config, Index steps_per_epoch);

// The target sparsity after `global_step` steps: initial before the start, final after the end,
//   final + (initial - final) * (1 - (step - start) / (end - start))^3 in between.
double scheduled_sparsity(const PruneConfig& config, Index global_step, Index steps_per_epoch);

// Whether the masks are recomputed after `global_step` steps: at the start, every `frequency`
// after it, and at the end (so the final sparsity is reached even off the frequency's grid).
bool is_pruning_step(const PruneConfig& config, Index global_step, Index steps_per_epoch);

}  // namespace dlrun
