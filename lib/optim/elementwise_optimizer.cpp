#include "optim/elementwise_optimizer.hpp"

#include <cmath>
#include <utility>

#include "core/errors.hpp"

namespace dlrun {

std::vector<ParameterRef> trainable_parameters_of(std::vector<ParameterRef> parameters) {
  std::vector<ParameterRef> trainable;
  trainable.reserve(parameters.size());
  for (ParameterRef& ref : parameters) {
    require(ref.parameter != nullptr, "optimizer given a null parameter '" + ref.name + "'");
    if (!ref.parameter->trainable) continue;
    require(ref.parameter->grad.size() == ref.parameter->value.size(),
            "parameter '" + ref.name + "' has a grad of another size than its value");
    trainable.push_back(std::move(ref));
  }
  return trainable;
}

double state_scalar(const std::map<std::string, double>& scalars, const std::string& key,
                    std::string_view optimizer) {
  const auto found = scalars.find(key);
  if (found == scalars.end()) {
    throw DataError("the checkpoint has no optimizer state '" + key + "' for " + std::string(optimizer));
  }
  if (!std::isfinite(found->second)) {
    throw DataError("the checkpoint's optimizer state '" + key + "' is not finite");
  }
  return found->second;
}

ElementwiseOptimizer::ElementwiseOptimizer(double learning_rate, std::vector<ParameterRef> parameters)
    : Optimizer(learning_rate), parameters_(trainable_parameters_of(std::move(parameters))) {}

void ElementwiseOptimizer::add_slot(std::string slot, std::vector<Tensor>& tensors, float fill) {
  tensors.clear();
  tensors.reserve(parameters_.size());
  for (const ParameterRef& ref : parameters_) tensors.emplace_back(ref.parameter->value.shape(), fill);
  slots_.push_back(SlotEntry{std::move(slot), &tensors});
}

void ElementwiseOptimizer::step() {
  ++step_count_;
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    Parameter& parameter = *parameters_[i].parameter;
    update(i, parameter.value.values(), std::as_const(parameter.grad).values());
  }
}

std::vector<std::pair<std::string, Tensor*>> ElementwiseOptimizer::state_tensors() {
  std::vector<std::pair<std::string, Tensor*>> tensors;
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    for (const SlotEntry& entry : slots_) {
      tensors.emplace_back(parameters_[i].name + "." + entry.slot, &(*entry.tensors)[i]);
    }
  }
  return tensors;
}

std::map<std::string, double> ElementwiseOptimizer::state_scalars() const {
  std::map<std::string, double> scalars{{"step", static_cast<double>(step_count_)}};
  extra_scalars(scalars);
  return scalars;
}

void ElementwiseOptimizer::set_state_scalars(const std::map<std::string, double>& scalars) {
  const double step = state_scalar(scalars, "step", type());
  if (step < 0 || step != std::floor(step)) {
    throw DataError("the checkpoint's optimizer step count is not a non-negative integer");
  }
  step_count_ = static_cast<Index>(step);
  set_extra_scalars(scalars);
}

}  // namespace dlrun
