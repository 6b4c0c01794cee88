// Early stopping with Keras's semantics (keras.callbacks.EarlyStopping): monitor, min_delta,
// patience, mode (auto: max for accuracy-like metrics, min otherwise), restore_best (restores the
// best epoch's parameters when it stops training), start_from_epoch.
#pragma once

#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "model/model.hpp"
#include "train/callback.hpp"

namespace dlrun {

// True when larger values of `metric` are better (accuracy, f1, r2, ...).
bool metric_is_maximized(std::string_view metric);
// Resolves mode auto|min|max for a monitored metric.
bool monitor_maximizes(std::string_view monitor, std::string_view mode);

class EarlyStopping final : public Callback {
 public:
  EarlyStopping(const EarlyStoppingConfig& config, Model& model);

  Verdict on_epoch_end(const EpochReport& report, TrainState& state) override;
  void on_train_end(const TrainState& state) override;

  double best() const { return best_; }
  Index best_epoch() const { return best_epoch_; }
  bool stopped() const { return stopped_; }
  const std::string& reason() const { return reason_; }

  // For checkpoints: best, best_epoch, wait; and with restore_best the best epoch's parameters,
  // as tensors named "early_stopping.best.<param>".
  std::map<std::string, double> state() const;
  void set_state(const std::map<std::string, double>& state);
  std::vector<std::pair<std::string, const Tensor*>> snapshot_tensors() const;
  // Takes the snapshot back from checkpoint tensors (absent ones leave it empty).
  void restore_snapshot(const std::function<const Tensor*(const std::string&)>& find);

 private:
  bool improves(double value) const;
  EarlyStoppingConfig config_;
  Model& model_;
  bool maximize_;
  double best_;
  Index best_epoch_ = 0;
  Index wait_ = 0;
  bool stopped_ = false;
  std::string reason_;
  std::vector<Tensor> best_parameters_;  // restore_best: a copy of every parameter at the best epoch
};

}  // namespace dlrun
