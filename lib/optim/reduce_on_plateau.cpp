#include "optim/reduce_on_plateau.hpp"

#include <algorithm>
#include <limits>

namespace dlrun {

ReduceOnPlateauSchedule::ReduceOnPlateauSchedule(double base_learning_rate, ReduceOnPlateauSpec spec)
    : spec_(std::move(spec)),
      learning_rate_(base_learning_rate),
      best_(spec_.maximize ? -std::numeric_limits<double>::infinity()
                           : std::numeric_limits<double>::infinity()) {}

bool ReduceOnPlateauSchedule::is_better(double current) const {
  if (spec_.maximize) {
    return spec_.relative ? current > best_ * (spec_.threshold + 1.0) : current > best_ + spec_.threshold;
  }
  return spec_.relative ? current < best_ * (1.0 - spec_.threshold) : current < best_ - spec_.threshold;
}

void ReduceOnPlateauSchedule::observe(Index /*epoch*/, const std::map<std::string, double>& metrics) {
  const auto found = metrics.find(spec_.monitor);
  if (found == metrics.end()) {
    std::string available;
    for (const auto& [name, value] : metrics) available += (available.empty() ? "" : ", ") + name;
    throw ConfigError(spec_.monitor_where, "schedule: reduce_on_plateau monitors '" + spec_.monitor +
                                               "', which this run does not compute (it has: " + available +
                                               ")");
  }
  const double current = found->second;
  ++last_epoch_;
  if (is_better(current)) {
    best_ = current;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;  // ignore any bad epochs in cooldown
  }
  if (num_bad_epochs_ > spec_.patience) {
    const double reduced = std::max(learning_rate_ * spec_.factor, spec_.min_lr);
    if (learning_rate_ - reduced > spec_.eps) learning_rate_ = reduced;
    cooldown_counter_ = spec_.cooldown;
    num_bad_epochs_ = 0;
  }
}

std::map<std::string, double> ReduceOnPlateauSchedule::state() const {
  return {{"best", best_},
          {"num_bad_epochs", static_cast<double>(num_bad_epochs_)},
          {"cooldown_counter", static_cast<double>(cooldown_counter_)},
          {"lr", learning_rate_},
          {"last_epoch", static_cast<double>(last_epoch_)}};
}

void ReduceOnPlateauSchedule::set_state(const std::map<std::string, double>& state) {
  const auto get = [&state](const std::string& key) {
    const auto found = state.find(key);
    if (found == state.end()) throw DataError("the checkpoint has no reduce_on_plateau state '" + key + "'");
    return found->second;
  };
  best_ = get("best");
  num_bad_epochs_ = static_cast<Index>(get("num_bad_epochs"));
  cooldown_counter_ = static_cast<Index>(get("cooldown_counter"));
  learning_rate_ = get("lr");
  last_epoch_ = static_cast<Index>(get("last_epoch"));
}

}  // namespace dlrun
