// Learning-rate schedules (`schedule:` in the config), matching torch.optim.lr_scheduler.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/options.hpp"

namespace dlrun {

class Optimizer;

class Schedule {
 public:
  virtual ~Schedule() = default;
  virtual std::string_view type() const = 0;
  // The learning rate for a step: epoch is 0-based, step_in_epoch in [0, steps_per_epoch).
  // Per-epoch schedules ignore step_in_epoch, as PyTorch's do when stepped once per epoch.
  virtual double learning_rate(Index epoch, Index step_in_epoch) const = 0;
  // Called after each epoch with that epoch's metrics ("val_loss", "loss", ...); reduce_on_plateau
  // reacts here.
  virtual void observe(Index /*epoch*/, const std::map<std::string, double>& /*metrics*/) {}
  // Internal state for checkpoints (reduce_on_plateau's best value, counters, ...).
  virtual std::map<std::string, double> state() const { return {}; }
  virtual void set_state(const std::map<std::string, double>& /*state*/) {}
  // True when the rate never changes (`constant` without warm-up): the only kind lbfgs accepts.
  virtual bool is_constant() const { return false; }
};

struct ScheduleContext {
  double base_learning_rate = 0.0;
  Index epochs = 0;
  Index steps_per_epoch = 0;
};

// Builds a schedule by type (step, multistep, exponential, cosine, one_cycle, reduce_on_plateau,
// constant), each optionally with `warmup_epochs` in front.
std::unique_ptr<Schedule> make_schedule(const std::string& type, const Location& type_where, Options& options,
                                        const ScheduleContext& context);
std::vector<std::string> schedule_types();

// Rejects combinations the optimizer cannot honour: lbfgs with any schedule but a plain constant
// (ConfigError at `where`, normally the schedule's type).
void check_schedule_compatible(const Optimizer& optimizer, const Schedule& schedule, const Location& where);

}  // namespace dlrun
