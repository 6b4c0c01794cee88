// Gaussian-process regression for `strategy: bayes` (model gp): a Matérn 5/2 kernel with one
// length scale per search dimension (ARD) on inputs scaled to the unit cube, a constant mean of 0
// (the targets are normalised by the caller), and Gaussian noise. The kernel's parameters are the
// maximum of the log marginal likelihood plus weak log-normal priors, found by Nelder-Mead from a
// fixed start, so a fit is a pure function of its data. Rasmussen and Williams, "Gaussian
// Processes for Machine Learning" (2006), chapters 2, 4 and 5; docs/search.md has the settings.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace dlrun {

struct KernelParams {
  std::vector<double> length_scales;  // one per group of columns (a search dimension)
  double signal_variance = 1.0;
  double noise_variance = 1e-2;
};

// Inputs: `rows` points of `columns` values each, row-major. A column belongs to one group (a
// numeric dimension has one column; a choice one column per category, one-hot), and all columns of
// a group share the group's length scale.
struct GpData {
  std::size_t columns = 0;
  std::vector<double> inputs;
  std::vector<double> targets;
  std::vector<std::size_t> group_of_column;
  std::size_t groups = 0;

  std::size_t rows() const { return targets.size(); }
  std::span<const double> row(std::size_t i) const { return {inputs.data() + i * columns, columns}; }
};

class GaussianProcess {
 public:
  GaussianProcess(GpData data, KernelParams params);

  // False when the kernel matrix could not be factorised (then predictions are the prior's).
  bool valid() const { return valid_; }
  double log_marginal_likelihood() const { return log_likelihood_; }
  const KernelParams& params() const { return params_; }
  const GpData& data() const { return data_; }

  struct Prediction {
    double mean = 0.0;
    double variance = 0.0;  // of the latent function (without the noise)
  };
  Prediction predict(std::span<const double> x) const;

 private:
  double kernel(std::span<const double> a, std::span<const double> b) const;

  GpData data_;
  KernelParams params_;
  std::vector<double> inverse_scales_;  // per column: 1 / its group's length scale
  std::vector<double> cholesky_;        // lower triangle of K + noise I, row-major n x n
  std::vector<double> alpha_;           // (K + noise I)^-1 targets
  double log_likelihood_ = 0.0;
  bool valid_ = false;
};

// The kernel parameters with the largest log marginal likelihood plus log prior on `data`.
KernelParams fit_kernel(const GpData& data);

// Expected improvement over `best` of a Gaussian with this mean and variance (maximisation).
double expected_improvement(double mean, double variance, double best);

// The standard normal distribution function, and its quantile for p in (0, 1).
double normal_cdf(double z);
double normal_quantile(double p);

}  // namespace dlrun
