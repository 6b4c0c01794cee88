#include "train/early_stopping.hpp"

#include <cmath>

#include "core/options.hpp"

namespace dlrun {

bool metric_is_maximized(std::string_view metric) {
  if (metric.starts_with("val_")) metric.remove_prefix(4);
  return metric.find("acc") != std::string_view::npos || metric == "precision" || metric == "recall" ||
         metric == "f1" || metric == "r2";
}

bool monitor_maximizes(std::string_view monitor, std::string_view mode) {
  if (mode == "max") return true;
  if (mode == "min") return false;
  return metric_is_maximized(monitor);
}

EarlyStopping::EarlyStopping(const EarlyStoppingConfig& config, Model& model)
    : config_(config),
      model_(model),
      maximize_(monitor_maximizes(config.monitor, config.mode)),
      best_(maximize_ ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity()) {}

bool EarlyStopping::improves(double value) const {
  return maximize_ ? value - config_.min_delta > best_ : value + config_.min_delta < best_;
}

Verdict EarlyStopping::on_epoch_end(const EpochReport& report, TrainState& state) {
  if (report.epoch <= config_.start_from_epoch) return Verdict::keep_going;
  const double value = report.metric(config_.monitor);
  if (std::isnan(value)) return Verdict::keep_going;  // the monitor is checked when the run is set up
  ++wait_;
  if (improves(value)) {
    best_ = value;
    best_epoch_ = report.epoch;
    wait_ = 0;
    if (config_.restore_best) {
      best_parameters_.clear();
      for (const ParameterRef& ref : model_.parameters()) best_parameters_.push_back(ref.parameter->value);
    }
    return Verdict::keep_going;
  }
  if (wait_ >= config_.patience && report.epoch > 1) {
    stopped_ = true;
    reason_ = "early stopping: " + config_.monitor + " did not improve for " + std::to_string(wait_) +
              " epoch(s); best " + format_number(best_) + " at epoch " + std::to_string(best_epoch_);
    state.stop_reason = reason_;
    return Verdict::stop;
  }
  return Verdict::keep_going;
}

void EarlyStopping::on_train_end(const TrainState& /*state*/) {
  if (!stopped_ || !config_.restore_best || best_parameters_.empty()) return;
  std::size_t i = 0;
  for (const ParameterRef& ref : model_.parameters()) ref.parameter->value = best_parameters_[i++];
}

std::map<std::string, double> EarlyStopping::state() const {
  return {{"best", best_},
          {"best_epoch", static_cast<double>(best_epoch_)},
          {"wait", static_cast<double>(wait_)}};
}

void EarlyStopping::set_state(const std::map<std::string, double>& state) {
  if (auto it = state.find("best"); it != state.end()) best_ = it->second;
  if (auto it = state.find("best_epoch"); it != state.end()) best_epoch_ = static_cast<Index>(it->second);
  if (auto it = state.find("wait"); it != state.end()) wait_ = static_cast<Index>(it->second);
}

std::vector<std::pair<std::string, const Tensor*>> EarlyStopping::snapshot_tensors() const {
  std::vector<std::pair<std::string, const Tensor*>> tensors;
  if (best_parameters_.empty()) return tensors;
  std::size_t i = 0;
  for (const ParameterRef& ref : model_.parameters()) {
    tensors.emplace_back("early_stopping.best." + ref.name, &best_parameters_[i++]);
  }
  return tensors;
}

void EarlyStopping::restore_snapshot(const std::function<const Tensor*(const std::string&)>& find) {
  std::vector<Tensor> snapshot;
  for (const ParameterRef& ref : model_.parameters()) {
    const Tensor* stored = find("early_stopping.best." + ref.name);
    if (stored == nullptr || stored->shape() != ref.parameter->value.shape()) return;
    snapshot.push_back(*stored);
  }
  best_parameters_ = std::move(snapshot);
}

}  // namespace dlrun
