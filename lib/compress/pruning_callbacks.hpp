// The callbacks that keep a pruned model pruned while it trains: MaskEnforcer holds fixed masks
// (fine-tuning after `dlrun prune`, or resuming a pruned run); GradualPruning also recomputes them
// along the cubic schedule of a config's `prune:` section.
#pragma once

#include "compress/pruning.hpp"
#include "config/config.hpp"
#include "train/callback.hpp"

namespace dlrun {

class MaskEnforcer : public Callback {
 public:
  explicit MaskEnforcer(MaskSet& masks) : masks_(masks) {}
  void on_train_begin(const TrainState& /*state*/) override { masks_.apply(); }
  // Zeroed gradients keep the optimizer's moments of pruned weights from growing; re-applying the
  // mask after the step undoes what momentum or weight decay still moved.
  void on_gradients_ready() override { masks_.mask_gradients(); }
  void on_step_end() override { masks_.apply(); }

 protected:
  MaskSet& masks_;
};

class GradualPruning final : public MaskEnforcer {
 public:
  GradualPruning(MaskSet& masks, const PruneConfig& config, Index steps_per_epoch);
  void on_train_begin(const TrainState& state) override;
  void on_batch_end(const BatchReport& report, const TrainState& state) override;

 private:
  void prune_if_due(Index global_step);
  PruneConfig config_;
  PruneScope scope_;
  Index steps_per_epoch_;
};

}  // namespace dlrun
