#include "optim/warmup.hpp"

#include "core/errors.hpp"

namespace dlrun {

WarmupSchedule::WarmupSchedule(std::unique_ptr<Schedule> main, double base_learning_rate,
                               const WarmupSpec& spec)
    : main_(std::move(main)), base_(base_learning_rate), spec_(spec) {
  require(main_ != nullptr, "warm-up without a main schedule");
  require((spec_.epochs > 0) != (spec_.steps > 0), "warm-up needs exactly one of epochs and steps");
  require(spec_.steps == 0 || spec_.steps_per_epoch > 0, "step warm-up needs steps_per_epoch");
}

double WarmupSchedule::learning_rate(Index epoch, Index step_in_epoch) const {
  const double s = spec_.start_factor;
  if (spec_.epochs > 0) {
    if (epoch >= spec_.epochs) return main_->learning_rate(epoch - spec_.epochs, step_in_epoch);
    return base_ * (s + (1.0 - s) * static_cast<double>(epoch) / static_cast<double>(spec_.epochs));
  }
  const Index step = epoch * spec_.steps_per_epoch + step_in_epoch;
  const double factor = step >= spec_.steps
                            ? 1.0
                            : s + (1.0 - s) * static_cast<double>(step) / static_cast<double>(spec_.steps);
  return factor * main_->learning_rate(epoch, step_in_epoch);
}

void WarmupSchedule::observe(Index epoch, const std::map<std::string, double>& metrics) {
  if (spec_.epochs == 0) {
    main_->observe(epoch, metrics);
  } else if (epoch >= spec_.epochs) {
    main_->observe(epoch - spec_.epochs, metrics);
  }
}

}  // namespace dlrun
