// y = x W^T + b over the rows of a matrix, on Parameters owned by a layer: the projections inside
// multi_head_attention (in_proj, out_proj) and transformer_block (linear1, linear2), with
// PyTorch's nn.Linear layout and initialisation. Dense does the same for a whole layer.
#pragma once

#include <span>
#include <string>

#include "layers/layer.hpp"

namespace dlrun {

// `count` floats from `data` as a span, for the BLAS wrapper's span arguments on raw row blocks.
inline std::span<const float> view(const float* data, Index count) {
  return {data, static_cast<std::size_t>(count)};
}
inline std::span<float> view(float* data, Index count) {
  return {data, static_cast<std::size_t>(count)};
}

// A parameter of `shape` with values and gradient zero; `regularized` is false for biases and norms
// (l1, l2 and max_norm skip them).
Parameter make_parameter(std::string name, const Shape& shape, bool regularized);

// PyTorch's nn.Linear init: U(-1/sqrt(in), 1/sqrt(in)) for the weight (in = weight.shape[1]),
// then for the bias when not null, drawn in that order.
void init_linear_uniform(Parameter& weight, Parameter* bias, Rng& rng);

// y (rows, out) = x (rows, in) W^T + b, W = weight (out, in), b = bias (out) or none. Assigns y.
void linear_forward(const float* x, Index rows, const Parameter& weight, const Parameter* bias, float* y);

// Accumulates weight.grad += G^T x and bias.grad += column sums of G (G = grad_y, (rows, out)).
// When grad_x is not null, grad_x (rows, in) = G W, assigned, or added when `accumulate`.
void linear_backward(const float* x, const float* grad_y, Index rows, Parameter& weight, Parameter* bias,
                     float* grad_x, bool accumulate = false);

}  // namespace dlrun
