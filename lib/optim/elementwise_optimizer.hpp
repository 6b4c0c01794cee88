// ElementwiseOptimizer: the shared frame of the optimizers whose update is a per-element loop over
// each parameter (sgd, adam, adamw, nadam, rmsprop, adagrad, adadelta, ftrl). It keeps the trainable
// parameters, the step count and the per-parameter state tensors ("slots"), so that every family
// only writes its update loop. lbfgs, which works on one flat vector, does not use it.
#pragma once

#include <map>
#include <span>
#include <string>
#include <vector>

#include "optim/optimizer.hpp"

namespace dlrun {

class ElementwiseOptimizer : public Optimizer {
 public:
  ElementwiseOptimizer(const ElementwiseOptimizer&) = delete;
  ElementwiseOptimizer& operator=(const ElementwiseOptimizer&) = delete;

  // Counts the step (so the first step has step_count() == 1, as torch's state['step']) and then
  // calls update() once per trainable parameter.
  void step() final;

  // "<param>.<slot>" for every registered slot, in parameter order.
  std::vector<std::pair<std::string, Tensor*>> state_tensors() override;
  // {"step": n} plus what extra_scalars() adds.
  std::map<std::string, double> state_scalars() const override;
  // Restores what state_scalars() gave; throws DataError for a missing or malformed entry.
  void set_state_scalars(const std::map<std::string, double>& scalars) override;

  Index step_count() const { return step_count_; }

 protected:
  // Keeps only the parameters with trainable == true (batch norm running statistics are buffers).
  // Throws InternalError for a null parameter or a value/grad size mismatch.
  ElementwiseOptimizer(double learning_rate, std::vector<ParameterRef> parameters);

  // Allocates one state tensor per parameter, shaped like it and filled with `fill`, named
  // "<param>.<slot>" for checkpoints. Call from the derived constructor; `tensors` must be a member.
  void add_slot(std::string slot, std::vector<Tensor>& tensors, float fill = 0.0f);

  // One update of parameter `index` (its value and accumulated grad; same size).
  virtual void update(std::size_t index, std::span<float> value, std::span<const float> grad) = 0;

  // Hooks for optimizers with scalar state besides the step count (nadam's mu_product).
  virtual void extra_scalars(std::map<std::string, double>& /*scalars*/) const {}
  virtual void set_extra_scalars(const std::map<std::string, double>& /*scalars*/) {}

  const std::vector<ParameterRef>& parameters() const { return parameters_; }

 private:
  struct SlotEntry {
    std::string slot;
    std::vector<Tensor>* tensors;
  };
  std::vector<ParameterRef> parameters_;
  std::vector<SlotEntry> slots_;
  Index step_count_ = 0;
};

// Keeps the trainable parameters of `parameters` and checks that each is usable (not null, grad
// the same size as value); throws InternalError otherwise. Shared with lbfgs.
std::vector<ParameterRef> trainable_parameters_of(std::vector<ParameterRef> parameters);

// The value of `key` in `scalars`; throws DataError naming the optimizer when it is missing or not
// finite (a checkpoint from another optimizer or a damaged one).
double state_scalar(const std::map<std::string, double>& scalars, const std::string& key,
                    std::string_view optimizer);

}  // namespace dlrun
