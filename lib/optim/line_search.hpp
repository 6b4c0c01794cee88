// The strong-Wolfe line search and the cubic interpolation that lbfgs uses, ported from
// torch.optim.lbfgs (_strong_wolfe, _cubic_interpolate; themselves ports of minFunc's and
// torch7's lswolfe.lua / polyinterp.lua). Scalars are double; vectors are the flat float32
// parameter space.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "core/tensor.hpp"

namespace dlrun {

// The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, clamped to
// `bounds` (default: [min(x1, x2), max(x1, x2)]); the middle of the bounds when the cubic has no
// minimum there.
double cubic_interpolate(double x1, double f1, double g1, double x2, double f2, double g2,
                         std::optional<std::pair<double, double>> bounds = std::nullopt);

// Evaluates the objective at x + t * d: returns the loss and ASSIGNS the gradient there to `grad`.
using DirectionalEvaluate = std::function<double(double t, std::span<float> grad)>;

// Scratch vectors for strong_wolfe, sized once (resize) so that a search allocates nothing.
struct LineSearchBuffers {
  void resize(Index n);
  std::vector<float> g_new, g_prev, bracket_g_low, bracket_g_high;
};

struct LineSearchResult {
  double loss = 0.0;
  double t = 0.0;
  Index evaluations = 0;
};

struct StrongWolfeOptions {
  double c1 = 1e-4;
  double c2 = 0.9;
  double tolerance_change = 1e-9;
  Index max_ls = 25;
};

// Finds a step t along d from the point where the loss is f, the gradient g and the directional
// derivative gtd = g.d (< 0), satisfying the strong Wolfe conditions (or the best point found).
// ASSIGNS the gradient at the chosen point to grad_out (which may alias g).
LineSearchResult strong_wolfe(const DirectionalEvaluate& evaluate, std::span<const float> d, double t,
                              double f, std::span<const float> g, double gtd, std::span<float> grad_out,
                              LineSearchBuffers& buffers, const StrongWolfeOptions& options = {});

// Helpers shared with lbfgs: dot product and max |x| accumulated in double.
double dot(std::span<const float> a, std::span<const float> b);
double max_abs(std::span<const float> a);

}  // namespace dlrun
