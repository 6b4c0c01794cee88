// ReduceLROnPlateau (torch.optim.lr_scheduler.ReduceLROnPlateau): multiplies the lr by `factor`
// when the monitored metric has not improved for more than `patience` epochs, then waits
// `cooldown` epochs before counting again; never below min_lr.
#pragma once

#include <string>

#include "core/errors.hpp"
#include "optim/schedule.hpp"

namespace dlrun {

struct ReduceOnPlateauSpec {
  std::string monitor = "val_loss";
  Location monitor_where;  // where observe() reports a metric the run does not have
  bool maximize = false;   // mode: max
  double factor = 0.1;
  Index patience = 10;
  double threshold = 1e-4;
  bool relative = true;  // threshold_mode: rel (else abs)
  Index cooldown = 0;
  double min_lr = 0.0;
  double eps = 1e-8;  // reductions smaller than this are skipped, as torch's eps
};

class ReduceOnPlateauSchedule final : public Schedule {
 public:
  ReduceOnPlateauSchedule(double base_learning_rate, ReduceOnPlateauSpec spec);
  std::string_view type() const override { return "reduce_on_plateau"; }
  double learning_rate(Index, Index) const override { return learning_rate_; }
  // ReduceLROnPlateau.step(metrics[monitor]). Throws ConfigError at the monitor key when the
  // metric is missing (for example val_loss without a validation set).
  void observe(Index epoch, const std::map<std::string, double>& metrics) override;
  // {"best", "num_bad_epochs", "cooldown_counter", "lr", "last_epoch"}; best is +-inf before the
  // first observation, as in torch.
  std::map<std::string, double> state() const override;
  // Throws DataError for a missing entry.
  void set_state(const std::map<std::string, double>& state) override;
  const std::string& monitor() const { return spec_.monitor; }

 private:
  bool is_better(double current) const;
  ReduceOnPlateauSpec spec_;
  double learning_rate_;
  double best_;
  Index num_bad_epochs_ = 0;
  Index cooldown_counter_ = 0;
  Index last_epoch_ = 0;
};

}  // namespace dlrun
