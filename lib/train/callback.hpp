// Hooks the trainer calls as training proceeds. Logging, progress bars, early stopping and
// checkpointing are callbacks; the loop in trainer.cpp knows none of them.
#pragma once

#include <string>
#include <vector>

#include "train/metrics.hpp"

namespace dlrun {

enum class Verdict { keep_going, stop };

struct EpochReport {
  Index epoch = 0;          // 1-based
  MetricValues train;       // loss (data loss), then metrics; `penalty` when l1/l2 are used
  MetricValues validation;  // empty without validation data
  double learning_rate = 0.0;
  double seconds = 0.0;
  // "loss", "accuracy" (train) or "val_loss", "val_accuracy" (validation); NaN when unknown.
  double metric(std::string_view name) const;
};

struct BatchReport {
  Index epoch = 0;  // 1-based
  Index step = 0;   // 1-based within the epoch
  Index steps = 0;  // per epoch
  double loss = 0.0;
  double seconds = 0.0;  // since the epoch began
};

// What a run has done so far; checkpoints store it.
struct TrainState {
  Index epoch = 0;          // completed epochs
  Index step_in_epoch = 0;  // batches completed of the current epoch (mid-epoch checkpoints)
  Index global_step = 0;
  std::vector<EpochReport> history;
  std::string stop_reason;  // "", "early_stopping: ...", "interrupted", ...
};

class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(const TrainState& /*state*/) {}
  // Inside each training step: after backward (and l1/l2), before clipping and the optimizer
  // step, when the gradients may be edited (pruning zeroes those of pruned weights); and after
  // the step (and max_norm), when the parameters may be (pruning re-applies its masks).
  virtual void on_gradients_ready() {}
  virtual void on_step_end() {}
  virtual void on_batch_end(const BatchReport& /*report*/, const TrainState& /*state*/) {}
  // Every callback runs; any stop wins.
  virtual Verdict on_epoch_end(const EpochReport& /*report*/, TrainState& /*state*/) {
    return Verdict::keep_going;
  }
  virtual void on_train_end(const TrainState& /*state*/) {}
};

}  // namespace dlrun
