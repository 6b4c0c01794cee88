// The finite-difference gradient check every layer test uses, and the Layer contract check
// (grad_input assigned, parameter grads accumulated), after Caffe's GradientChecker and dlib's
// test_layer.
#pragma once

#include <string>
#include <vector>

#include "layers/layer.hpp"

namespace dlrun::testing {

struct GradientCheckOptions {
  double step = 1e-3;           // central-difference step
  double tolerance = 2e-2;      // on |a - n| / max(|a|, |n|, 1)
  Index max_coordinates = 256;  // sample coordinates of large tensors
  std::uint64_t seed = 1234;
  float kink = 0.0f;                // skip coordinates with | |x| - kink | < kink_width (ReLU, max-pool)
  float kink_width = -1.0f;         //   disabled when negative
  Mode mode = Mode::eval;           // batch norm is also checked in Mode::train
  bool check_input = true;          // false for layers whose input is not differentiable (embedding ids)
  std::vector<float> input_values;  // when not empty, the input to use (e.g. token ids)
};

struct GradientCheckReport {
  bool passed = true;
  double worst_error = 0.0;
  std::string worst_place;
  std::vector<std::string> failures;
  std::string summary() const;
};

// Checks backward() against central differences of L(x, θ) = <forward(x), r>, r random normal, for
// the input and every trainable parameter; then checks the contract.
GradientCheckReport check_layer_gradients(Layer& layer, const Shape& input_shape,
                                          const GradientCheckOptions& options = {});

// Helpers shared by tests.
Tensor random_normal(const Shape& shape, Rng& rng, float stddev = 1.0f);
double max_abs_difference(const Tensor& a, const Tensor& b);
// max |a-b| / max(|b|, 1) over elements
double max_relative_difference(std::span<const float> a, std::span<const float> b);

// Runs forward (Mode::train, rng seeded 42) and backward with 1 and then 2 threads and checks that
// the output, the input gradient and every parameter gradient are bit-identical. Returns the
// output (for further checks); restores the thread count.
Tensor check_same_for_thread_counts(Layer& layer, const Tensor& input, const Tensor& grad_output);

}  // namespace dlrun::testing
