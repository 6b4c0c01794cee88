// The training loop: mini-batches, loss, backward, regularisation, clipping, optimizer step,
// schedule, validation every epoch, callbacks. It reads top to bottom in fit().
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "data/load.hpp"
#include "model/model.hpp"
#include "optim/optimizer.hpp"
#include "optim/regularization.hpp"
#include "optim/schedule.hpp"
#include "train/callback.hpp"
#include "train/data_parallel.hpp"
#include "train/divergence.hpp"
#include "train/evaluate.hpp"

namespace dlrun {

class Trainer {
 public:
  // All references must outlive the trainer. `schedule` may be null (constant learning rate).
  Trainer(const Config& config, Model& model, Optimizer& optimizer, Schedule* schedule, Loss& loss,
          const LoadedData& data, const Task& task);

  void add_callback(Callback& callback) { callbacks_.push_back(&callback); }
  // When set, fit() finishes the current batch and returns with stop_reason "interrupted".
  void set_stop_flag(const std::atomic<bool>* stop_requested) { stop_requested_ = stop_requested; }
  // Trains data-parallel over the communicator's ranks (lib/train/data_parallel.hpp): each rank
  // computes its share of every batch, and gradients, losses and metrics are summed over ranks, so
  // that every rank holds the same parameters and reports. Every rank calls fit() and evaluate()
  // alike. Without it (or with one rank) the trainer runs alone.
  void set_communicator(Communicator& communicator);

  // Trains from `state` (a fresh TrainState, or one restored from a checkpoint) until the
  // configured epochs are done, a callback stops, or a stop is requested. Throws DivergedError
  // when a loss, gradient or parameter stops being finite.
  TrainState fit(TrainState state);

  // Data-parallel: each rank evaluates a share of the view, and the sums are added up.
  Evaluation evaluate(const DataView& view);

  // The current epoch's running metric sums, so that a mid-epoch checkpoint resumes them.
  nlohmann::json progress() const;
  void restore_progress(const nlohmann::json& progress);
  Index steps_per_epoch() const;
  const LossBinding& loss_binding() const { return binding_; }

 private:
  double train_step(std::span<const Index> rows, Index epoch, Index step, Index global_step);
  bool distributed() const { return parallel_ && parallel_->active(); }

  const Config& config_;
  Model& model_;
  Optimizer& optimizer_;
  Schedule* schedule_;
  const LoadedData& data_;
  Task task_;
  LossBinding binding_;
  std::vector<ParameterRef> trainable_;
  std::vector<PenaltyTarget> penalties_;
  std::vector<std::pair<Parameter*, double>> max_norms_;
  std::vector<Callback*> callbacks_;
  const std::atomic<bool>* stop_requested_ = nullptr;

  BatchAssembler batch_;
  Tensor grad_output_;
  Tensor metric_output_;  // value metrics see the fused final activation's output
  std::vector<Index> order_;
  MetricAccumulator train_metrics_;
  double penalty_sum_ = 0.0;  // l1/l2 penalty, reported apart from the data loss
  Index penalty_examples_ = 0;

  // Data parallelism (set_communicator): this rank's metrics of the current step, and whether any
  // rank was asked to stop (all ranks stop after the same step).
  std::optional<DataParallel> parallel_;
  std::function<void(Index)> after_layer_;
  MetricAccumulator step_metrics_;
  bool stop_agreed_ = false;
  std::string dropout_stream_ = "dropout";
};

}  // namespace dlrun
