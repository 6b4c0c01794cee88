#include "select/gaussian_process.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numbers>
#include <numeric>

namespace dlrun {
namespace {

double matern52(double r) {
  const double s = std::sqrt(5.0) * r;
  return (1.0 + s + s * s / 3.0) * std::exp(-s);
}

double normal_pdf(double z) {
  return std::exp(-0.5 * z * z) / std::sqrt(2.0 * std::numbers::pi);
}

// The priors, log-normal, and the bounds of the fitted parameters, on the log scale. Inputs span
// [0, 1] and targets are normalised to about unit variance, so one scale fits every search: a
// length scale around half the cube (Gamma(3, 6) of BoTorch's older default has its mean there),
// a signal variance around 1, a noise variance around 1e-2 with a wide spread (validation metrics
// are noisy to varying degrees). The priors matter only while there are few trials.
struct LogPrior {
  double mean, sd, low, high;
  double log_density(double x) const {
    const double z = (x - mean) / sd;
    return -0.5 * z * z;
  }
};
const LogPrior kLengthScalePrior{std::log(0.5), 1.0, std::log(0.02), std::log(20.0)};
const LogPrior kSignalPrior{0.0, 1.0, std::log(0.05), std::log(20.0)};
const LogPrior kNoisePrior{std::log(1e-2), 2.0, std::log(1e-6), std::log(1.0)};

// Factorises K + (noise + jitter) I, K(i, j) = kernel(i, j) for j <= i, into its lower Cholesky
// factor `lower` (row-major n x n), sets alpha = (K + noise I)^-1 targets, and returns the log
// marginal likelihood; NaN when the matrix is not positive definite.
template <typename Kernel>
double factorise(std::size_t n, const Kernel& kernel, const KernelParams& params,
                 const std::vector<double>& targets, std::vector<double>& lower, std::vector<double>& alpha) {
  lower.assign(n * n, 0.0);
  const double diagonal = params.noise_variance + 1e-8 * params.signal_variance;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j <= i; ++j) {
      double sum = kernel(i, j) + (i == j ? diagonal : 0.0);
      for (std::size_t k = 0; k < j; ++k) sum -= lower[i * n + k] * lower[j * n + k];
      if (i == j) {
        if (!(sum > 0.0)) return std::numeric_limits<double>::quiet_NaN();
        lower[i * n + i] = std::sqrt(sum);
      } else {
        lower[i * n + j] = sum / lower[j * n + j];
      }
    }
  }
  // alpha = L^-T L^-1 y.
  alpha = targets;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t k = 0; k < i; ++k) alpha[i] -= lower[i * n + k] * alpha[k];
    alpha[i] /= lower[i * n + i];
  }
  double fit = 0.0;
  for (std::size_t i = 0; i < n; ++i) fit += alpha[i] * alpha[i];
  for (std::size_t i = n; i-- > 0;) {
    for (std::size_t k = i + 1; k < n; ++k) alpha[i] -= lower[k * n + i] * alpha[k];
    alpha[i] /= lower[i * n + i];
  }
  double log_determinant = 0.0;
  for (std::size_t i = 0; i < n; ++i) log_determinant += 2.0 * std::log(lower[i * n + i]);
  return -0.5 * fit - 0.5 * log_determinant - 0.5 * static_cast<double>(n) * std::log(2.0 * std::numbers::pi);
}

// For the kernel fit: each pair's squared differences per group, so that a kernel entry for any
// length scales is a sum over the groups (not over the columns) without copying the data.
struct PairDistances {
  std::size_t groups = 0;
  std::vector<double> squared;  // ((i * n + j) * groups + g), for j <= i

  explicit PairDistances(const GpData& data) : groups(data.groups) {
    const std::size_t n = data.rows();
    squared.assign(n * n * groups, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        for (std::size_t c = 0; c < data.columns; ++c) {
          const double d = data.row(i)[c] - data.row(j)[c];
          squared[(i * n + j) * groups + data.group_of_column[c]] += d * d;
        }
      }
    }
  }
};

// Nelder-Mead simplex minimisation (Nelder and Mead 1965, the usual coefficients 1, 2, 0.5, 0.5)
// from `start` with initial steps `step`. Deterministic; returns the best point found.
std::vector<double> nelder_mead(const std::function<double(const std::vector<double>&)>& f,
                                std::vector<double> start, double step, int max_evaluations) {
  const std::size_t n = start.size();
  std::vector<std::vector<double>> simplex(n + 1, start);
  for (std::size_t i = 0; i < n; ++i) simplex[i + 1][i] += step;
  std::vector<double> values(n + 1);
  for (std::size_t i = 0; i <= n; ++i) values[i] = f(simplex[i]);
  int evaluations = static_cast<int>(n + 1);
  std::vector<std::size_t> order(n + 1);
  while (evaluations < max_evaluations) {
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return values[a] < values[b]; });
    const std::size_t best = order.front(), worst = order.back(), second = order[n - 1];
    if (std::abs(values[worst] - values[best]) < 1e-7) break;
    std::vector<double> centroid(n, 0.0);
    for (std::size_t i = 0; i <= n; ++i) {
      if (i == worst) continue;
      for (std::size_t j = 0; j < n; ++j) centroid[j] += simplex[i][j] / static_cast<double>(n);
    }
    auto along = [&](double t) {
      std::vector<double> x(n);
      for (std::size_t j = 0; j < n; ++j) x[j] = centroid[j] + t * (simplex[worst][j] - centroid[j]);
      return x;
    };
    std::vector<double> reflected = along(-1.0);
    const double reflected_value = f(reflected);
    ++evaluations;
    if (reflected_value < values[best]) {
      std::vector<double> expanded = along(-2.0);
      const double expanded_value = f(expanded);
      ++evaluations;
      if (expanded_value < reflected_value) {
        simplex[worst] = std::move(expanded);
        values[worst] = expanded_value;
      } else {
        simplex[worst] = std::move(reflected);
        values[worst] = reflected_value;
      }
      continue;
    }
    if (reflected_value < values[second]) {
      simplex[worst] = std::move(reflected);
      values[worst] = reflected_value;
      continue;
    }
    const bool outside = reflected_value < values[worst];
    std::vector<double> contracted = along(outside ? -0.5 : 0.5);
    const double contracted_value = f(contracted);
    ++evaluations;
    if (contracted_value < (outside ? reflected_value : values[worst])) {
      simplex[worst] = std::move(contracted);
      values[worst] = contracted_value;
      continue;
    }
    for (std::size_t i = 0; i <= n; ++i) {  // shrink towards the best
      if (i == best) continue;
      for (std::size_t j = 0; j < n; ++j)
        simplex[i][j] = simplex[best][j] + 0.5 * (simplex[i][j] - simplex[best][j]);
      values[i] = f(simplex[i]);
      ++evaluations;
    }
  }
  const auto best = std::min_element(values.begin(), values.end()) - values.begin();
  return simplex[static_cast<std::size_t>(best)];
}

// theta: log length scales, log signal variance, log noise variance.
KernelParams params_of(const std::vector<double>& theta, std::size_t groups) {
  KernelParams params;
  for (std::size_t g = 0; g < groups; ++g) {
    params.length_scales.push_back(
        std::exp(std::clamp(theta[g], kLengthScalePrior.low, kLengthScalePrior.high)));
  }
  params.signal_variance = std::exp(std::clamp(theta[groups], kSignalPrior.low, kSignalPrior.high));
  params.noise_variance = std::exp(std::clamp(theta[groups + 1], kNoisePrior.low, kNoisePrior.high));
  return params;
}

// The negative log posterior of theta (up to a constant); outside the bounds, the value at the
// bound plus a steep penalty, so the simplex comes back.
double negative_log_posterior(const GpData& data, const PairDistances& pairs,
                              const std::vector<double>& theta, std::vector<double>& lower,
                              std::vector<double>& alpha) {
  const std::size_t groups = data.groups;
  double log_prior = 0.0;
  double penalty = 0.0;
  auto add = [&](const LogPrior& prior, double x) {
    const double clamped = std::clamp(x, prior.low, prior.high);
    log_prior += prior.log_density(clamped);
    penalty += 1e3 * (x - clamped) * (x - clamped);
  };
  for (std::size_t g = 0; g < groups; ++g) add(kLengthScalePrior, theta[g]);
  add(kSignalPrior, theta[groups]);
  add(kNoisePrior, theta[groups + 1]);
  const KernelParams params = params_of(theta, groups);
  std::vector<double> inverse_squares(groups);
  for (std::size_t g = 0; g < groups; ++g)
    inverse_squares[g] = 1.0 / (params.length_scales[g] * params.length_scales[g]);
  const std::size_t n = data.rows();
  const auto kernel = [&](std::size_t i, std::size_t j) {
    double r2 = 0.0;
    const double* squared = pairs.squared.data() + (i * n + j) * groups;
    for (std::size_t g = 0; g < groups; ++g) r2 += squared[g] * inverse_squares[g];
    return params.signal_variance * matern52(std::sqrt(r2));
  };
  const double likelihood = factorise(n, kernel, params, data.targets, lower, alpha);
  if (std::isnan(likelihood)) return std::numeric_limits<double>::max();
  return -(likelihood + log_prior) + penalty;
}

}  // namespace

GaussianProcess::GaussianProcess(GpData data, KernelParams params)
    : data_(std::move(data)), params_(std::move(params)) {
  for (std::size_t c = 0; c < data_.columns; ++c) {
    inverse_scales_.push_back(1.0 / params_.length_scales[data_.group_of_column[c]]);
  }
  const double likelihood = factorise(
      data_.rows(), [&](std::size_t i, std::size_t j) { return kernel(data_.row(i), data_.row(j)); }, params_,
      data_.targets, cholesky_, alpha_);
  valid_ = !std::isnan(likelihood);
  log_likelihood_ = likelihood;
}

double GaussianProcess::kernel(std::span<const double> a, std::span<const double> b) const {
  double r2 = 0.0;
  for (std::size_t c = 0; c < a.size(); ++c) {
    const double d = (a[c] - b[c]) * inverse_scales_[c];
    r2 += d * d;
  }
  return params_.signal_variance * matern52(std::sqrt(r2));
}

GaussianProcess::Prediction GaussianProcess::predict(std::span<const double> x) const {
  if (!valid_) return {0.0, params_.signal_variance};
  const std::size_t n = data_.rows();
  std::vector<double> v(n);
  double mean = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    v[i] = kernel(x, data_.row(i));
    mean += v[i] * alpha_[i];
  }
  // variance = k(x, x) - |L^-1 k*|^2
  double explained = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t k = 0; k < i; ++k) v[i] -= cholesky_[i * n + k] * v[k];
    v[i] /= cholesky_[i * n + i];
    explained += v[i] * v[i];
  }
  return {mean, std::max(params_.signal_variance - explained, 1e-12)};
}

KernelParams fit_kernel(const GpData& data) {
  std::vector<double> theta(data.groups, kLengthScalePrior.mean);
  theta.push_back(kSignalPrior.mean);
  theta.push_back(kNoisePrior.mean);
  const PairDistances pairs(data);
  std::vector<double> lower, alpha;  // reused by every evaluation
  const auto objective = [&](const std::vector<double>& t) {
    return negative_log_posterior(data, pairs, t, lower, alpha);
  };
  const int budget = 100 + 40 * static_cast<int>(theta.size());
  // A restart from the first result with a fresh simplex guards against a collapsed one.
  theta = nelder_mead(objective, theta, 1.0, budget);
  theta = nelder_mead(objective, theta, 0.3, budget / 2);
  return params_of(theta, data.groups);
}

double normal_cdf(double z) {
  return 0.5 * std::erfc(-z / std::numbers::sqrt2);
}

double expected_improvement(double mean, double variance, double best) {
  const double sd = std::sqrt(variance);
  const double z = (mean - best) / sd;
  return sd * (z * normal_cdf(z) + normal_pdf(z));
}

double normal_quantile(double p) {
  // Bisection on the CDF: exact to double precision, and cheap for the few values it serves.
  double low = -40.0, high = 40.0;
  for (int i = 0; i < 200 && high - low > 1e-12; ++i) {
    const double middle = 0.5 * (low + high);
    (normal_cdf(middle) < p ? low : high) = middle;
  }
  return 0.5 * (low + high);
}

}  // namespace dlrun
