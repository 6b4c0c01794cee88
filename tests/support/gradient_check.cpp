#include "support/gradient_check.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/threads.hpp"

namespace dlrun::testing {
namespace {

double dot_in_double(std::span<const float> a, std::span<const float> b) {
  double sum = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return sum;
}

std::vector<Index> sample_indices(Index count, Index limit, Rng& rng) {
  std::vector<Index> indices(static_cast<std::size_t>(count));
  for (Index i = 0; i < count; ++i) indices[static_cast<std::size_t>(i)] = i;
  if (count > limit) {
    rng.shuffle(indices);
    indices.resize(static_cast<std::size_t>(limit));
  }
  return indices;
}

bool near_kink(float value, const GradientCheckOptions& options) {
  return options.kink_width >= 0.0f && std::abs(std::abs(value) - options.kink) < options.kink_width;
}

struct Recorder {
  GradientCheckReport& report;
  double tolerance;
  void record(const std::string& name, Index i, double analytic, double numeric) {
    const double scale = std::max({std::abs(analytic), std::abs(numeric), 1.0});
    const double error = std::abs(analytic - numeric) / scale;
    if (error > report.worst_error) {
      report.worst_error = error;
      std::ostringstream place;
      place << name << "[" << i << "]: analytic " << analytic << ", numeric " << numeric;
      report.worst_place = place.str();
    }
    if (error > tolerance) {
      report.passed = false;
      if (report.failures.size() < 10) {
        std::ostringstream failure;
        failure << name << "[" << i << "]: analytic " << analytic << ", numeric " << numeric;
        report.failures.push_back(failure.str());
      }
    }
  }
};

}  // namespace

std::string GradientCheckReport::summary() const {
  std::ostringstream out;
  out << (passed ? "passed" : "FAILED") << "; worst relative error " << worst_error << " at " << worst_place;
  for (const auto& failure : failures) out << "\n  " << failure;
  return out.str();
}

Tensor random_normal(const Shape& shape, Rng& rng, float stddev) {
  Tensor tensor(shape);
  rng.fill_normal(tensor.values(), 0.0f, stddev);
  return tensor;
}

double max_abs_difference(const Tensor& a, const Tensor& b) {
  if (a.size() != b.size()) return INFINITY;
  double worst = 0.0;
  for (Index i = 0; i < a.size(); ++i) worst = std::max(worst, static_cast<double>(std::abs(a[i] - b[i])));
  return worst;
}

double max_relative_difference(std::span<const float> a, std::span<const float> b) {
  if (a.size() != b.size()) return INFINITY;
  double worst = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double scale = std::max(1.0, std::abs(static_cast<double>(b[i])));
    worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]) / scale);
  }
  return worst;
}

GradientCheckReport check_layer_gradients(Layer& layer, const Shape& input_shape,
                                          const GradientCheckOptions& options) {
  Rng rng(options.seed);
  Tensor input = random_normal(input_shape, rng);
  if (!options.input_values.empty()) {
    std::copy(options.input_values.begin(), options.input_values.end(), input.values().begin());
  }
  const Tensor probe = random_normal(layer.output_shape(input_shape), rng);
  Tensor output;
  Tensor grad_input;
  // Stochastic layers draw from a fresh copy of the same stream on every evaluation, so the
  // objective is a deterministic function of (x, θ).
  const Rng layer_rng(options.seed + 1);
  auto run_forward = [&]() {
    Rng rng_copy = layer_rng;
    ForwardContext context{options.mode, &rng_copy};
    layer.forward(input, output, context);
  };
  auto objective = [&]() {
    run_forward();
    return dot_in_double(output.values(), probe.values());
  };

  for (Parameter& parameter : layer.parameters()) parameter.grad.zero();
  run_forward();
  layer.backward(input, output, probe, grad_input);

  GradientCheckReport report;
  Recorder recorder{report, options.tolerance};
  auto compare = [&](const std::string& name, std::span<float> values, std::span<const float> analytic) {
    for (const Index i : sample_indices(static_cast<Index>(values.size()), options.max_coordinates, rng)) {
      const auto at = static_cast<std::size_t>(i);
      const float saved = values[at];
      if (near_kink(saved, options)) continue;
      const float up = saved + static_cast<float>(options.step);
      const float down = saved - static_cast<float>(options.step);
      values[at] = up;
      const double plus = objective();
      values[at] = down;
      const double minus = objective();
      values[at] = saved;
      // Divide by the step float storage actually took, not the one asked for.
      const double numeric = (plus - minus) / (static_cast<double>(up) - static_cast<double>(down));
      recorder.record(name, i, analytic[at], numeric);
    }
  };
  if (options.check_input) {
    if (grad_input.shape() != input.shape()) {
      report.passed = false;
      report.failures.push_back("grad_input has shape " + grad_input.shape().to_string() + ", input " +
                                input.shape().to_string());
      return report;
    }
    const Tensor analytic_input = grad_input;
    compare("input", input.values(), analytic_input.values());
  }
  std::vector<Tensor> analytic_params;
  for (Parameter& parameter : layer.parameters()) analytic_params.push_back(parameter.grad);
  std::size_t p = 0;
  for (Parameter& parameter : layer.parameters()) {
    if (parameter.trainable) compare(parameter.name, parameter.value.values(), analytic_params[p].values());
    ++p;
  }

  // Contract: a second backward overwrites a dirty grad_input and doubles the parameter grads.
  for (Parameter& parameter : layer.parameters()) parameter.grad.zero();
  run_forward();
  layer.backward(input, output, probe, grad_input);
  const Tensor first_grad_input = grad_input;
  std::vector<Tensor> first_grads;
  for (Parameter& parameter : layer.parameters()) first_grads.push_back(parameter.grad);
  grad_input.fill(9.0f);
  run_forward();
  layer.backward(input, output, probe, grad_input);
  if (options.check_input && max_abs_difference(grad_input, first_grad_input) > 1e-5) {
    report.passed = false;
    report.failures.push_back("grad_input is not assigned: a dirty buffer changed the result");
  }
  p = 0;
  for (Parameter& parameter : layer.parameters()) {
    if (!parameter.trainable) {
      ++p;
      continue;
    }
    for (Index i = 0; i < parameter.grad.size(); ++i) {
      const float expected = 2.0f * first_grads[p][i];
      if (std::abs(parameter.grad[i] - expected) > 1e-4f * std::max(1.0f, std::abs(expected))) {
        report.passed = false;
        report.failures.push_back(parameter.name + " grad is not accumulated (+=) by backward");
        break;
      }
    }
    ++p;
  }
  return report;
}

Tensor check_same_for_thread_counts(Layer& layer, const Tensor& input, const Tensor& grad_output) {
  const int threads = thread_count();
  std::vector<Tensor> outputs, grads, parameter_grads;
  for (const int count : {1, 2}) {
    set_thread_count(count);
    Rng rng(42);
    Tensor output, grad_input;
    for (Parameter& p : layer.parameters()) p.grad.zero();
    layer.forward(input, output, ForwardContext{Mode::train, &rng});
    layer.backward(input, output, grad_output, grad_input);
    outputs.push_back(output);
    grads.push_back(grad_input);
    for (Parameter& p : layer.parameters()) parameter_grads.push_back(p.grad);
  }
  set_thread_count(threads);
  const std::size_t count = layer.parameters().size();
  for (std::size_t i = 0; i < count; ++i) {
    CAPTURE(layer.parameters()[i].name);
    CHECK(max_abs_difference(parameter_grads[i], parameter_grads[count + i]) == 0.0);
  }
  CHECK(max_abs_difference(outputs[0], outputs[1]) == 0.0);
  CHECK(max_abs_difference(grads[0], grads[1]) == 0.0);
  return outputs[0];
}

}  // namespace dlrun::testing
