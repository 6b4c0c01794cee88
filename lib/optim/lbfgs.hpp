// L-BFGS, a port of torch.optim.LBFGS (https://pytorch.org/docs/1.13/generated/torch.optim.LBFGS.html):
// each step() runs up to max_iter quasi-Newton iterations on all trainable parameters as one flat
// vector, re-evaluating the objective through the closure, with a fixed step (lr) or the
// strong-Wolfe line search. Meant for full-batch or large-batch deterministic objectives.
#pragma once

#include <memory>

#include "optim/line_search.hpp"
#include "optim/optimizer.hpp"

namespace dlrun {

struct LbfgsSpec {
  double lr = 1.0;
  Index max_iter = 20;
  Index max_eval = 25;  // torch: max_iter * 5 / 4
  double tolerance_grad = 1e-7;
  double tolerance_change = 1e-9;
  Index history_size = 100;
  bool strong_wolfe = false;  // `line_search: strong_wolfe`
};

// State (all allocated at construction; N = trainable elements, H = history_size, so the memory is
// (2H + 9) N floats):
//   tensors "lbfgs.d" [N] (last direction), "lbfgs.prev_flat_grad" [N], "lbfgs.old_dirs" [H, N]
//   (the y = g_k+1 - g_k history), "lbfgs.old_stps" [H, N] (the s = t d history), "lbfgs.ro" [H]
//   (1 / y.s); the histories are ring buffers, oldest at history_start.
//   scalars "n_iter", "func_evals" (as torch's state), "t" (last step length), "H_diag" (scale of the
//   initial inverse Hessian), "history_count", "history_start".
class Lbfgs final : public Optimizer {
 public:
  Lbfgs(const LbfgsSpec& spec, std::vector<ParameterRef> parameters);
  Lbfgs(const Lbfgs&) = delete;
  Lbfgs& operator=(const Lbfgs&) = delete;

  std::string_view type() const override { return "lbfgs"; }
  bool needs_closure() const override { return true; }
  // Throws InternalError: lbfgs re-evaluates the objective and can only step with a closure.
  void step() override;
  // One torch LBFGS.step(closure); returns the loss of the closure's first evaluation.
  double step_with_closure(const std::function<double()>& closure) override;

  std::vector<std::pair<std::string, Tensor*>> state_tensors() override;
  std::map<std::string, double> state_scalars() const override;
  void set_state_scalars(const std::map<std::string, double>& scalars) override;

  Index n_iter() const { return n_iter_; }
  Index func_evals() const { return func_evals_; }

 private:
  void gather_flat_grad(std::span<float> flat) const;
  void add_to_parameters(double step, std::span<const float> direction);
  void copy_parameters(std::span<float> flat) const;
  void set_parameters(std::span<const float> flat, double t, std::span<const float> direction);
  double directional_evaluate(const std::function<double()>& closure, double t, std::span<float> grad);
  void compute_direction();

  LbfgsSpec spec_;
  std::vector<ParameterRef> parameters_;
  Index size_ = 0;
  // State (see the class comment).
  Tensor d_, prev_flat_grad_, old_dirs_, old_stps_, ro_;
  Index n_iter_ = 0, func_evals_ = 0, history_count_ = 0, history_start_ = 0;
  double t_ = 0.0, h_diag_ = 1.0;
  // Scratch.
  std::vector<float> flat_grad_, x_init_;
  std::vector<double> al_;
  LineSearchBuffers line_search_;
};

// Reads lr (> 0, default 1), max_iter (>= 1, 20), max_eval (>= 1, max_iter * 5 / 4),
// tolerance_grad (>= 0, 1e-7), tolerance_change (>= 0, 1e-9), history_size (>= 1, 100),
// line_search (none | strong_wolfe).
LbfgsSpec read_lbfgs_spec(Options& options);
std::unique_ptr<Optimizer> make_lbfgs(Options& options, std::vector<ParameterRef> parameters);

}  // namespace dlrun
