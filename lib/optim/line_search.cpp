#include "optim/line_search.hpp"

#include <algorithm>
#include <cmath>

#include "core/errors.hpp"

namespace dlrun {

double dot(std::span<const float> a, std::span<const float> b) {
  double sum = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

double max_abs(std::span<const float> a) {
  float largest = 0.0f;
  for (const float v : a) largest = std::max(largest, std::abs(v));
  return largest;
}

void LineSearchBuffers::resize(Index n) {
  const auto size = static_cast<std::size_t>(n);
  for (auto* buffer : {&g_new, &g_prev, &bracket_g_low, &bracket_g_high}) buffer->assign(size, 0.0f);
}

double cubic_interpolate(double x1, double f1, double g1, double x2, double f2, double g2,
                         std::optional<std::pair<double, double>> bounds) {
  const auto [xmin_bound, xmax_bound] = bounds ? *bounds : (x1 <= x2 ? std::pair{x1, x2} : std::pair{x2, x1});
  // Most common case: cubic interpolation of 2 points with function and derivative values for both.
  const double d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
  const double d2_square = d1 * d1 - g1 * g2;
  if (d2_square >= 0.0) {
    const double d2 = std::sqrt(d2_square);
    const double min_pos = x1 <= x2 ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
                                    : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2));
    // torch would carry a NaN on here (0/0 for a degenerate cubic); the bisection is the sane answer.
    if (std::isfinite(min_pos)) return std::min(std::max(min_pos, xmin_bound), xmax_bound);
  }
  return (xmin_bound + xmax_bound) / 2.0;
}

namespace {

// A bracket of up to two trial steps with their losses, directional derivatives and gradients.
// Gradients live in the LineSearchBuffers and are moved by swapping vectors, never copied.
struct Bracket {
  double t[2] = {0.0, 0.0};
  double f[2] = {0.0, 0.0};
  double gtd[2] = {0.0, 0.0};
  std::vector<float>* g[2] = {nullptr, nullptr};
};

}  // namespace

LineSearchResult strong_wolfe(const DirectionalEvaluate& evaluate, std::span<const float> d, double t,
                              double f, std::span<const float> g, double gtd, std::span<float> grad_out,
                              LineSearchBuffers& buffers, const StrongWolfeOptions& options) {
  require(buffers.g_new.size() == d.size(), "line-search buffers not sized for the direction");
  const double c1 = options.c1;
  const double c2 = options.c2;
  const Index max_ls = options.max_ls;
  const double d_norm = max_abs(d);
  std::vector<float>& g_new = buffers.g_new;
  std::vector<float>& g_prev = buffers.g_prev;
  std::copy(g.begin(), g.end(), g_prev.begin());

  // Evaluate the objective and gradient using the initial step.
  double f_new = evaluate(t, g_new);
  Index evaluations = 1;
  double gtd_new = dot(g_new, d);

  // Bracket an interval containing a point satisfying the Wolfe criteria.
  double t_prev = 0.0, f_prev = f, gtd_prev = gtd;
  bool done = false;
  Index ls_iter = 0;
  Bracket bracket;
  bracket.g[0] = &buffers.bracket_g_low;
  bracket.g[1] = &buffers.bracket_g_high;
  int bracket_size = 0;
  const auto take_pair = [&] {  // bracket = [t_prev, t] with the matching values
    bracket.t[0] = t_prev, bracket.t[1] = t;
    bracket.f[0] = f_prev, bracket.f[1] = f_new;
    bracket.gtd[0] = gtd_prev, bracket.gtd[1] = gtd_new;
    std::swap(*bracket.g[0], g_prev);
    std::swap(*bracket.g[1], g_new);
    bracket_size = 2;
  };
  while (ls_iter < max_ls) {
    if (f_new > f + c1 * t * gtd || (ls_iter > 1 && f_new >= f_prev)) {
      take_pair();
      break;
    }
    if (std::abs(gtd_new) <= -c2 * gtd) {
      bracket.t[0] = t, bracket.f[0] = f_new, bracket.gtd[0] = gtd_new;
      std::swap(*bracket.g[0], g_new);
      bracket_size = 1;
      done = true;
      break;
    }
    if (gtd_new >= 0) {
      take_pair();
      break;
    }
    // Interpolate.
    const double min_step = t + 0.01 * (t - t_prev);
    const double max_step = t * 10.0;
    const double previous = t;
    t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, std::pair{min_step, max_step});
    // Next step.
    t_prev = previous;
    f_prev = f_new;
    std::swap(g_prev, g_new);
    gtd_prev = gtd_new;
    f_new = evaluate(t, g_new);
    ++evaluations;
    gtd_new = dot(g_new, d);
    ++ls_iter;
  }
  // Reached the maximum number of iterations?
  if (ls_iter == max_ls) {
    bracket.t[0] = 0.0, bracket.t[1] = t;
    bracket.f[0] = f, bracket.f[1] = f_new;
    std::copy(g.begin(), g.end(), bracket.g[0]->begin());
    std::swap(*bracket.g[1], g_new);
    bracket_size = 2;
  }

  // Zoom phase: we now have a point satisfying the criteria, or a bracket around it. Refine the
  // bracket until we find the exact point satisfying the criteria.
  bool insufficient_progress = false;
  int low = bracket.f[0] <= bracket.f[bracket_size - 1] ? 0 : 1;
  int high = 1 - low;
  while (!done && ls_iter < max_ls) {
    // The line-search bracket is so small.
    if (std::abs(bracket.t[1] - bracket.t[0]) * d_norm < options.tolerance_change) break;

    // Compute a new trial value.
    t = cubic_interpolate(bracket.t[0], bracket.f[0], bracket.gtd[0], bracket.t[1], bracket.f[1],
                          bracket.gtd[1]);

    // Test that we are making sufficient progress: if t is so close to a boundary, we mark that we
    // are making insufficient progress, and if we made insufficient progress in the last step too,
    // or t is at one of the boundaries, we move t to 0.1 * the bracket's length away from the
    // nearest boundary.
    const double upper = std::max(bracket.t[0], bracket.t[1]);
    const double lower = std::min(bracket.t[0], bracket.t[1]);
    const double eps = 0.1 * (upper - lower);
    if (std::min(upper - t, t - lower) < eps) {
      if (insufficient_progress || t >= upper || t <= lower) {
        t = std::abs(t - upper) < std::abs(t - lower) ? upper - eps : lower + eps;
        insufficient_progress = false;
      } else {
        insufficient_progress = true;
      }
    } else {
      insufficient_progress = false;
    }

    // Evaluate the new point.
    f_new = evaluate(t, g_new);
    ++evaluations;
    gtd_new = dot(g_new, d);
    ++ls_iter;

    if (f_new > f + c1 * t * gtd || f_new >= bracket.f[low]) {
      // Armijo condition not satisfied or not lower than the lowest point.
      bracket.t[high] = t, bracket.f[high] = f_new, bracket.gtd[high] = gtd_new;
      std::swap(*bracket.g[high], g_new);
      low = bracket.f[0] <= bracket.f[1] ? 0 : 1;
      high = 1 - low;
    } else {
      if (std::abs(gtd_new) <= -c2 * gtd) {
        done = true;  // the Wolfe conditions are satisfied
      } else if (gtd_new * (bracket.t[high] - bracket.t[low]) >= 0) {
        // The old high becomes the new low.
        bracket.t[high] = bracket.t[low], bracket.f[high] = bracket.f[low],
        bracket.gtd[high] = bracket.gtd[low];
        std::swap(*bracket.g[high], *bracket.g[low]);
      }
      // The new point becomes the new low.
      bracket.t[low] = t, bracket.f[low] = f_new, bracket.gtd[low] = gtd_new;
      std::swap(*bracket.g[low], g_new);
    }
  }

  const std::vector<float>& g_low = *bracket.g[low];
  std::copy(g_low.begin(), g_low.end(), grad_out.begin());
  return LineSearchResult{bracket.f[low], bracket.t[low], evaluations};
}

}  // namespace dlrun
