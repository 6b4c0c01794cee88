// The closed-form learning-rate schedules, each the lr torch.optim.lr_scheduler gives in a given
// epoch (or step, for one_cycle). Closed forms rather than torch's recursive updates, so that a
// schedule is a pure function of (epoch, step) and resumes exactly; they agree with torch to
// rounding. reduce_on_plateau (reduce_on_plateau.hpp) and the warm-up wrapper (warmup.hpp) live
// apart.
#pragma once

#include <vector>

#include "optim/schedule.hpp"

namespace dlrun {

// The optimizer's lr throughout.
class ConstantSchedule final : public Schedule {
 public:
  explicit ConstantSchedule(double base_learning_rate) : base_(base_learning_rate) {}
  std::string_view type() const override { return "constant"; }
  double learning_rate(Index, Index) const override { return base_; }
  bool is_constant() const override { return true; }

 private:
  double base_;
};

// StepLR: base * gamma^floor(epoch / step_size).
class StepSchedule final : public Schedule {
 public:
  StepSchedule(double base_learning_rate, Index step_size, double gamma);
  std::string_view type() const override { return "step"; }
  double learning_rate(Index epoch, Index step_in_epoch) const override;

 private:
  double base_;
  Index step_size_;
  double gamma_;
};

// MultiStepLR: base * gamma^(number of milestones <= epoch); a milestone listed twice counts twice.
class MultiStepSchedule final : public Schedule {
 public:
  MultiStepSchedule(double base_learning_rate, std::vector<Index> milestones, double gamma);
  std::string_view type() const override { return "multistep"; }
  double learning_rate(Index epoch, Index step_in_epoch) const override;

 private:
  double base_;
  std::vector<Index> milestones_;
  double gamma_;
};

// ExponentialLR: base * gamma^epoch.
class ExponentialSchedule final : public Schedule {
 public:
  ExponentialSchedule(double base_learning_rate, double gamma);
  std::string_view type() const override { return "exponential"; }
  double learning_rate(Index epoch, Index step_in_epoch) const override;

 private:
  double base_;
  double gamma_;
};

// CosineAnnealingLR: eta_min + (base - eta_min) * (1 + cos(pi * epoch / T_max)) / 2, which past
// T_max rises again (period 2 T_max), as torch's does.
class CosineSchedule final : public Schedule {
 public:
  CosineSchedule(double base_learning_rate, Index t_max, double eta_min);
  std::string_view type() const override { return "cosine"; }
  double learning_rate(Index epoch, Index step_in_epoch) const override;

 private:
  double base_;
  Index t_max_;
  double eta_min_;
};

struct OneCycleSpec {
  double max_lr = 0.0;
  Index total_steps = 0;
  Index steps_per_epoch = 0;
  double pct_start = 0.3;
  bool linear = false;  // anneal_strategy: linear (default cos)
  double div_factor = 25.0;
  double final_div_factor = 1e4;
  bool three_phase = false;
};

// OneCycleLR, per step (step number = epoch * steps_per_epoch + step_in_epoch, clamped to
// total_steps as torch stops there): from max_lr / div_factor up to max_lr over pct_start of the
// steps, then down to max_lr / div_factor / final_div_factor (three_phase: back to the initial lr
// first, symmetrically, then down). Momentum is not cycled (torch's cycle_momentum is not mirrored).
class OneCycleSchedule final : public Schedule {
 public:
  // Throws InternalError when a phase has zero length (torch divides by zero there; make_schedule
  // reports it as a ConfigError first).
  explicit OneCycleSchedule(const OneCycleSpec& spec);
  std::string_view type() const override { return "one_cycle"; }
  double learning_rate(Index epoch, Index step_in_epoch) const override;
  // The phases' end steps (fractional, as torch's), for make_schedule's check.
  static std::vector<double> phase_ends(const OneCycleSpec& spec);

 private:
  struct Phase {
    double end_step;
    double start_lr;
    double end_lr;
  };
  OneCycleSpec spec_;
  std::vector<Phase> phases_;
};

}  // namespace dlrun
