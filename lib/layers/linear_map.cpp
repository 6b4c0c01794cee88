#include "layers/linear_map.hpp"

#include <cmath>

#include "core/blas.hpp"

namespace dlrun {

Parameter make_parameter(std::string name, const Shape& shape, bool regularized) {
  Parameter parameter{std::move(name), Tensor(shape), Tensor(shape)};
  parameter.regularized = regularized;
  return parameter;
}

void init_linear_uniform(Parameter& weight, Parameter* bias, Rng& rng) {
  // kaiming_uniform(a = sqrt(5)) gives the bound 1 / sqrt(fan_in); PyTorch uses it for the bias too.
  const float bound = 1.0f / std::sqrt(static_cast<float>(weight.value.shape()[1]));
  rng.fill_uniform(weight.value.values(), -bound, bound);
  if (bias != nullptr) rng.fill_uniform(bias->value.values(), -bound, bound);
}

void linear_forward(const float* x, Index rows, const Parameter& weight, const Parameter* bias, float* y) {
  const Index out = weight.value.shape()[0];
  const Index in = weight.value.shape()[1];
  if (rows == 0) return;
  gemm(Transpose::no, Transpose::yes, rows, out, in, 1.0f, view(x, rows * in), weight.value.values(), 0.0f,
       view(y, rows * out));
  if (bias == nullptr) return;
  const float* b = bias->value.data();
  for (Index r = 0; r < rows; ++r) {
    float* row = y + r * out;
    for (Index j = 0; j < out; ++j) row[j] += b[j];
  }
}

void linear_backward(const float* x, const float* grad_y, Index rows, Parameter& weight, Parameter* bias,
                     float* grad_x, bool accumulate) {
  const Index out = weight.value.shape()[0];
  const Index in = weight.value.shape()[1];
  if (rows == 0) return;
  // grad W += G^T X: (out, rows) x (rows, in).
  gemm(Transpose::yes, Transpose::no, out, in, rows, 1.0f, view(grad_y, rows * out), view(x, rows * in), 1.0f,
       weight.grad.values());
  if (bias != nullptr) {
    float* grad_b = bias->grad.data();
    for (Index r = 0; r < rows; ++r) {
      const float* g = grad_y + r * out;
      for (Index j = 0; j < out; ++j) grad_b[j] += g[j];
    }
  }
  if (grad_x == nullptr) return;
  // grad X = G W: (rows, out) x (out, in).
  gemm(Transpose::no, Transpose::no, rows, in, out, 1.0f, view(grad_y, rows * out), weight.value.values(),
       accumulate ? 1.0f : 0.0f, view(grad_x, rows * in));
}

}  // namespace dlrun
