#include "optim/lbfgs.hpp"

#include <algorithm>
#include <cmath>

#include "core/errors.hpp"
#include "optim/elementwise_optimizer.hpp"

namespace dlrun {
namespace {

// Row `logical` (0 = oldest) of a [H, N] ring buffer whose oldest row is at `start`.
std::span<float> history_row(Tensor& history, Index start, Index logical) {
  const Index rows = history.shape()[0];
  const Index width = history.shape()[1];
  const Index physical = (start + logical) % rows;
  return {history.data() + physical * width, static_cast<std::size_t>(width)};
}

// x += alpha * y
void axpy(float alpha, std::span<const float> y, std::span<float> x) {
  for (std::size_t i = 0; i < x.size(); ++i) x[i] += alpha * y[i];
}

}  // namespace

Lbfgs::Lbfgs(const LbfgsSpec& spec, std::vector<ParameterRef> parameters)
    : Optimizer(spec.lr), spec_(spec), parameters_(trainable_parameters_of(std::move(parameters))) {
  require(spec_.history_size >= 1 && spec_.max_iter >= 1 && spec_.max_eval >= 1, "invalid lbfgs settings");
  for (const ParameterRef& ref : parameters_) size_ += ref.parameter->value.size();
  const Index history = spec_.history_size;
  d_ = Tensor(Shape{size_});
  prev_flat_grad_ = Tensor(Shape{size_});
  old_dirs_ = Tensor(Shape{history, size_});
  old_stps_ = Tensor(Shape{history, size_});
  ro_ = Tensor(Shape{history});
  flat_grad_.assign(static_cast<std::size_t>(size_), 0.0f);
  al_.assign(static_cast<std::size_t>(history), 0.0);
  if (spec_.strong_wolfe) {
    x_init_.assign(static_cast<std::size_t>(size_), 0.0f);
    line_search_.resize(size_);
  }
}

void Lbfgs::step() {
  require(false, "lbfgs re-evaluates the objective: call step_with_closure, not step");
}

void Lbfgs::gather_flat_grad(std::span<float> flat) const {
  std::size_t offset = 0;
  for (const ParameterRef& ref : parameters_) {
    const auto grad = std::as_const(ref.parameter->grad).values();
    std::copy(grad.begin(), grad.end(), flat.begin() + static_cast<std::ptrdiff_t>(offset));
    offset += grad.size();
  }
}

void Lbfgs::add_to_parameters(double step, std::span<const float> direction) {
  const auto alpha = static_cast<float>(step);
  std::size_t offset = 0;
  for (const ParameterRef& ref : parameters_) {
    const auto value = ref.parameter->value.values();
    axpy(alpha, direction.subspan(offset, value.size()), value);
    offset += value.size();
  }
}

void Lbfgs::copy_parameters(std::span<float> flat) const {
  std::size_t offset = 0;
  for (const ParameterRef& ref : parameters_) {
    const auto value = std::as_const(ref.parameter->value).values();
    std::copy(value.begin(), value.end(), flat.begin() + static_cast<std::ptrdiff_t>(offset));
    offset += value.size();
  }
}

// Parameters = flat + t * direction.
void Lbfgs::set_parameters(std::span<const float> flat, double t, std::span<const float> direction) {
  const auto alpha = static_cast<float>(t);
  std::size_t offset = 0;
  for (const ParameterRef& ref : parameters_) {
    const auto value = ref.parameter->value.values();
    for (std::size_t i = 0; i < value.size(); ++i)
      value[i] = flat[offset + i] + alpha * direction[offset + i];
    offset += value.size();
  }
}

// torch's _directional_evaluate: the loss and gradient at x_init + t d; the parameters are left at x_init.
double Lbfgs::directional_evaluate(const std::function<double()>& closure, double t, std::span<float> grad) {
  set_parameters(x_init_, t, d_.values());
  const double loss = closure();
  gather_flat_grad(grad);
  set_parameters(x_init_, 0.0, d_.values());
  return loss;
}

// Updates the history with the last step and sets d = -H g by the two-loop recursion
// (Nocedal & Wright, Algorithm 7.4), as torch does from its second iteration on.
void Lbfgs::compute_direction() {
  const Index history = spec_.history_size;
  const auto t = static_cast<float>(t_);
  const std::span<const float> flat_grad = flat_grad_;
  const auto prev = std::as_const(prev_flat_grad_).values();
  const auto d = d_.values();
  double ys = 0.0;  // y.s with y = g - g_prev, s = t d
  for (Index i = 0; i < size_; ++i) ys += static_cast<double>(flat_grad[i] - prev[i]) * (d[i] * t);
  if (ys > 1e-10) {
    if (history_count_ == history) {  // drop the oldest pair
      history_start_ = (history_start_ + 1) % history;
      --history_count_;
    }
    const auto y = history_row(old_dirs_, history_start_, history_count_);
    const auto s = history_row(old_stps_, history_start_, history_count_);
    for (Index i = 0; i < size_; ++i) {
      y[i] = flat_grad[i] - prev[i];
      s[i] = d[i] * t;
    }
    ro_[(history_start_ + history_count_) % history] = static_cast<float>(1.0 / ys);
    ++history_count_;
    h_diag_ = ys / dot(y, y);  // scale of the initial inverse Hessian approximation
  }
  const auto ro = [&](Index logical) {
    return static_cast<double>(ro_[(history_start_ + logical) % history]);
  };

  // q = -g; d is used as q, then becomes r, the final direction.
  for (Index i = 0; i < size_; ++i) d[i] = -flat_grad[i];
  for (Index i = history_count_ - 1; i >= 0; --i) {
    const auto i_index = static_cast<std::size_t>(i);
    al_[i_index] = dot(history_row(old_stps_, history_start_, i), d) * ro(i);
    axpy(static_cast<float>(-al_[i_index]), history_row(old_dirs_, history_start_, i), d);
  }
  const auto h_diag = static_cast<float>(h_diag_);
  for (float& v : d) v *= h_diag;
  for (Index i = 0; i < history_count_; ++i) {
    const double be_i = dot(history_row(old_dirs_, history_start_, i), d) * ro(i);
    axpy(static_cast<float>(al_[static_cast<std::size_t>(i)] - be_i),
         history_row(old_stps_, history_start_, i), d);
  }
}

// torch.optim.LBFGS.step, line for line.
double Lbfgs::step_with_closure(const std::function<double()>& closure) {
  const double lr = learning_rate();
  const double orig_loss = closure();
  double loss = orig_loss;
  Index current_evals = 1;
  ++func_evals_;
  gather_flat_grad(flat_grad_);
  bool opt_cond = max_abs(flat_grad_) <= spec_.tolerance_grad;
  if (opt_cond) return orig_loss;  // optimal condition

  const auto d = d_.values();
  const auto prev_flat_grad = prev_flat_grad_.values();
  Index n_iter = 0;
  while (n_iter < spec_.max_iter) {
    ++n_iter;
    ++n_iter_;

    // Compute the descent direction.
    if (n_iter_ == 1) {
      for (Index i = 0; i < size_; ++i) d[i] = -flat_grad_[static_cast<std::size_t>(i)];
      history_count_ = 0;
      history_start_ = 0;
      h_diag_ = 1.0;
    } else {
      compute_direction();
    }
    std::copy(flat_grad_.begin(), flat_grad_.end(), prev_flat_grad.begin());
    const double prev_loss = loss;

    // Compute the step length: reset the initial guess.
    if (n_iter_ == 1) {
      double sum = 0.0;
      for (const float g : flat_grad_) sum += std::abs(g);
      t_ = std::min(1.0, 1.0 / sum) * lr;
    } else {
      t_ = lr;
    }

    // The directional derivative is below tolerance.
    const double gtd = dot(flat_grad_, d);
    if (gtd > -spec_.tolerance_change) break;

    Index ls_func_evals = 0;
    if (spec_.strong_wolfe) {
      copy_parameters(x_init_);
      const DirectionalEvaluate evaluate = [this, &closure](double t, std::span<float> grad) {
        return directional_evaluate(closure, t, grad);
      };
      const LineSearchResult result =
          strong_wolfe(evaluate, d, t_, loss, flat_grad_, gtd, flat_grad_, line_search_);
      loss = result.loss;
      t_ = result.t;
      ls_func_evals = result.evaluations;
      add_to_parameters(t_, d);
      opt_cond = max_abs(flat_grad_) <= spec_.tolerance_grad;
    } else {
      // No line search: move with the fixed step, and re-evaluate unless this is the last
      // iteration (in a stochastic setting there is no use in re-evaluating).
      add_to_parameters(t_, d);
      if (n_iter != spec_.max_iter) {
        loss = closure();
        gather_flat_grad(flat_grad_);
        opt_cond = max_abs(flat_grad_) <= spec_.tolerance_grad;
        ls_func_evals = 1;
      }
    }
    current_evals += ls_func_evals;
    func_evals_ += ls_func_evals;

    // Check the conditions.
    if (n_iter == spec_.max_iter) break;
    if (current_evals >= spec_.max_eval) break;
    if (opt_cond) break;
    if (max_abs(d) * std::abs(t_) <= spec_.tolerance_change) break;  // lack of progress
    if (std::abs(loss - prev_loss) < spec_.tolerance_change) break;
  }
  return orig_loss;
}

std::vector<std::pair<std::string, Tensor*>> Lbfgs::state_tensors() {
  return {{"lbfgs.d", &d_},
          {"lbfgs.prev_flat_grad", &prev_flat_grad_},
          {"lbfgs.old_dirs", &old_dirs_},
          {"lbfgs.old_stps", &old_stps_},
          {"lbfgs.ro", &ro_}};
}

std::map<std::string, double> Lbfgs::state_scalars() const {
  return {{"n_iter", static_cast<double>(n_iter_)},
          {"func_evals", static_cast<double>(func_evals_)},
          {"t", t_},
          {"H_diag", h_diag_},
          {"history_count", static_cast<double>(history_count_)},
          {"history_start", static_cast<double>(history_start_)}};
}

void Lbfgs::set_state_scalars(const std::map<std::string, double>& scalars) {
  const auto count = [&](const std::string& key, double limit) {
    const double value = state_scalar(scalars, key, type());
    if (value < 0 || value > limit || value != std::floor(value)) {
      throw DataError("the checkpoint's lbfgs state '" + key + "' is out of range");
    }
    return static_cast<Index>(value);
  };
  const auto history = static_cast<double>(spec_.history_size);
  n_iter_ = count("n_iter", 9e15);
  func_evals_ = count("func_evals", 9e15);
  history_count_ = count("history_count", history);
  history_start_ = count("history_start", history - 1);
  t_ = state_scalar(scalars, "t", type());
  h_diag_ = state_scalar(scalars, "H_diag", type());
}

LbfgsSpec read_lbfgs_spec(Options& options) {
  LbfgsSpec spec;
  spec.lr = options.positive_number("lr", spec.lr);
  spec.max_iter = options.integer_at_least("max_iter", spec.max_iter, 1);
  spec.max_eval = options.integer_at_least("max_eval", spec.max_iter * 5 / 4, 1);
  spec.tolerance_grad = options.number_at_least("tolerance_grad", spec.tolerance_grad, 0.0);
  spec.tolerance_change = options.number_at_least("tolerance_change", spec.tolerance_change, 0.0);
  spec.history_size = options.integer_at_least("history_size", spec.history_size, 1);
  spec.strong_wolfe = options.choice("line_search", "none", {"none", "strong_wolfe"}) == "strong_wolfe";
  return spec;
}

std::unique_ptr<Optimizer> make_lbfgs(Options& options, std::vector<ParameterRef> parameters) {
  return std::make_unique<Lbfgs>(read_lbfgs_spec(options), std::move(parameters));
}

}  // namespace dlrun
