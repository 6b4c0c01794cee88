#include "optim/schedules.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/errors.hpp"

namespace dlrun {

StepSchedule::StepSchedule(double base_learning_rate, Index step_size, double gamma)
    : base_(base_learning_rate), step_size_(step_size), gamma_(gamma) {
  require(step_size_ >= 1, "step schedule needs step_size >= 1");
}

double StepSchedule::learning_rate(Index epoch, Index) const {
  return base_ * std::pow(gamma_, static_cast<double>(epoch / step_size_));
}

MultiStepSchedule::MultiStepSchedule(double base_learning_rate, std::vector<Index> milestones, double gamma)
    : base_(base_learning_rate), milestones_(std::move(milestones)), gamma_(gamma) {
  std::sort(milestones_.begin(), milestones_.end());
}

double MultiStepSchedule::learning_rate(Index epoch, Index) const {
  const auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), epoch) - milestones_.begin();
  return base_ * std::pow(gamma_, static_cast<double>(passed));
}

ExponentialSchedule::ExponentialSchedule(double base_learning_rate, double gamma)
    : base_(base_learning_rate), gamma_(gamma) {}

double ExponentialSchedule::learning_rate(Index epoch, Index) const {
  return base_ * std::pow(gamma_, static_cast<double>(epoch));
}

CosineSchedule::CosineSchedule(double base_learning_rate, Index t_max, double eta_min)
    : base_(base_learning_rate), t_max_(t_max), eta_min_(eta_min) {
  require(t_max_ >= 1, "cosine schedule needs T_max >= 1");
}

double CosineSchedule::learning_rate(Index epoch, Index) const {
  const double angle = std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(t_max_);
  return eta_min_ + (base_ - eta_min_) * (1.0 + std::cos(angle)) / 2.0;
}

std::vector<double> OneCycleSchedule::phase_ends(const OneCycleSpec& spec) {
  const auto total = static_cast<double>(spec.total_steps);
  if (spec.three_phase) {
    return {spec.pct_start * total - 1.0, 2.0 * spec.pct_start * total - 2.0, total - 1.0};
  }
  return {spec.pct_start * total - 1.0, total - 1.0};
}

OneCycleSchedule::OneCycleSchedule(const OneCycleSpec& spec) : spec_(spec) {
  const double initial_lr = spec_.max_lr / spec_.div_factor;
  const double min_lr = initial_lr / spec_.final_div_factor;
  const std::vector<double> ends = phase_ends(spec_);
  if (spec_.three_phase) {
    phases_ = {{ends[0], initial_lr, spec_.max_lr},
               {ends[1], spec_.max_lr, initial_lr},
               {ends[2], initial_lr, min_lr}};
  } else {
    phases_ = {{ends[0], initial_lr, spec_.max_lr}, {ends[1], spec_.max_lr, min_lr}};
  }
  double start = 0.0;
  for (const Phase& phase : phases_) {
    require(phase.end_step != start, "one_cycle schedule with an empty phase");
    start = phase.end_step;
  }
}

// OneCycleLR.get_lr.
double OneCycleSchedule::learning_rate(Index epoch, Index step_in_epoch) const {
  const Index step = std::clamp<Index>(epoch * spec_.steps_per_epoch + step_in_epoch, 0, spec_.total_steps);
  const auto step_num = static_cast<double>(step);
  double start_step = 0.0;
  for (std::size_t i = 0; i < phases_.size(); ++i) {
    const Phase& phase = phases_[i];
    if (step_num <= phase.end_step || i + 1 == phases_.size()) {
      const double pct = (step_num - start_step) / (phase.end_step - start_step);
      if (spec_.linear) return (phase.end_lr - phase.start_lr) * pct + phase.start_lr;
      return phase.end_lr + (phase.start_lr - phase.end_lr) / 2.0 * (std::cos(std::numbers::pi * pct) + 1.0);
    }
    start_step = phase.end_step;
  }
  return phases_.back().end_lr;  // not reached: the last phase always answers
}

}  // namespace dlrun
