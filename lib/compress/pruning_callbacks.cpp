#include "compress/pruning_callbacks.hpp"

#include "compress/prune_schedule.hpp"

namespace dlrun {

GradualPruning::GradualPruning(MaskSet& masks, const PruneConfig& config, Index steps_per_epoch)
    : MaskEnforcer(masks),
      config_(config),
      scope_(prune_scope_from_string(config.scope)),
      steps_per_epoch_(steps_per_epoch) {}

void GradualPruning::prune_if_due(Index global_step) {
  if (!is_pruning_step(config_, global_step, steps_per_epoch_)) return;
  masks_.prune_by_magnitude(scheduled_sparsity(config_, global_step, steps_per_epoch_), scope_);
}

void GradualPruning::on_train_begin(const TrainState& state) {
  MaskEnforcer::on_train_begin(state);
  prune_if_due(state.global_step);
}

void GradualPruning::on_batch_end(const BatchReport& /*report*/, const TrainState& state) {
  prune_if_due(state.global_step);
}

}  // namespace dlrun
