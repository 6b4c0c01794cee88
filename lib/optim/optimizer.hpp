// The Optimizer interface. Optimizers follow torch.optim's semantics and option names; each keeps
// its per-parameter state in named tensors ("<param>.<slot>", e.g. "fc1.weight.exp_avg") so that
// checkpoints store it as `optim.<param>.<slot>` (DESIGN.md §5).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/options.hpp"
#include "layers/layer.hpp"

namespace dlrun {

// A parameter the optimizer updates, with its full name ("fc1.weight").
struct ParameterRef {
  std::string name;
  Parameter* parameter = nullptr;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual std::string_view type() const = 0;

  // One update of every parameter from its accumulated grad (the trainer has run backward).
  virtual void step() = 0;

  // Optimizers that re-evaluate the objective (lbfgs) return true and implement
  // step_with_closure; `closure` zeroes the grads, runs forward and backward on the same batch and
  // returns the loss. The default calls closure() once and then step().
  virtual bool needs_closure() const { return false; }
  virtual double step_with_closure(const std::function<double()>& closure) {
    const double loss = closure();
    step();
    return loss;
  }

  // The learning rate used by the next step; schedules set it each epoch or step.
  double learning_rate() const { return learning_rate_; }
  void set_learning_rate(double learning_rate) { learning_rate_ = learning_rate; }
  double initial_learning_rate() const { return initial_learning_rate_; }

  // Every state tensor, allocated at construction, named "<param>.<slot>". Checkpoints save them
  // and load into them in place.
  virtual std::vector<std::pair<std::string, Tensor*>> state_tensors() { return {}; }
  // Scalar state (step counts, ...), for checkpoint metadata.
  virtual std::map<std::string, double> state_scalars() const { return {}; }
  virtual void set_state_scalars(const std::map<std::string, double>& /*scalars*/) {}

 protected:
  explicit Optimizer(double learning_rate)
      : learning_rate_(learning_rate), initial_learning_rate_(learning_rate) {}

 private:
  double learning_rate_;
  double initial_learning_rate_;
};

// Builds an optimizer by type ("sgd", "adam", ...) reading and validating its options
// (ConfigError at the key for bad values, did-you-mean for unknown types).
std::unique_ptr<Optimizer> make_optimizer(const std::string& type, const Location& type_where,
                                          Options& options, std::vector<ParameterRef> parameters);
std::vector<std::string> optimizer_types();

}  // namespace dlrun
