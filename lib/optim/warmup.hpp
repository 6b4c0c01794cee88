// A linear warm-up in front of another schedule.
//
// warmup_epochs W (per epoch): torch's SequentialLR([LinearLR(start_factor=s, total_iters=W), main],
// milestones=[W]): epochs 0..W-1 use base * (s + (1 - s) * epoch / W), and the main schedule
// starts counting at epoch W as its own epoch 0 (so base lr at epoch W). The default
// s = 1 / (W + 1) makes the ramp base * (epoch + 1) / (W + 1).
//
// warmup_steps S (per step): the main schedule's lr times s + (1 - s) * g / S for the first S
// global steps g = epoch * steps_per_epoch + step_in_epoch (times 1 afterwards), with the same
// default s = 1 / (S + 1); the main schedule keeps its own epoch count.
#pragma once

#include <memory>

#include "optim/schedule.hpp"

namespace dlrun {

struct WarmupSpec {
  Index epochs = 0;  // exactly one of epochs and steps is > 0
  Index steps = 0;
  double start_factor = 0.0;
  Index steps_per_epoch = 0;  // needed with steps
};

class WarmupSchedule final : public Schedule {
 public:
  WarmupSchedule(std::unique_ptr<Schedule> main, double base_learning_rate, const WarmupSpec& spec);
  // The main schedule's type: the warm-up is an option of it.
  std::string_view type() const override { return main_->type(); }
  double learning_rate(Index epoch, Index step_in_epoch) const override;
  // Forwards to the main schedule; with warmup_epochs only from epoch W on, renumbered from 0.
  void observe(Index epoch, const std::map<std::string, double>& metrics) override;
  std::map<std::string, double> state() const override { return main_->state(); }
  void set_state(const std::map<std::string, double>& state) override { main_->set_state(state); }
  const Schedule& main() const { return *main_; }

 private:
  std::unique_ptr<Schedule> main_;
  double base_;
  WarmupSpec spec_;
};

}  // namespace dlrun
