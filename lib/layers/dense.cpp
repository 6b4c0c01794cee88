#include "layers/dense.hpp"

#include "core/blas.hpp"
#include "core/errors.hpp"
#include "core/threads.hpp"
#include "layers/linear_map.hpp"

namespace dlrun {
namespace {

[[noreturn]] void throw_rank_error(const std::string& name, const Shape& input) {
  throw ShapeError("layer '" + name + "' (dense): dense expects (N, F) or (N, T, F), got " +
                   input.to_string() + "; add a flatten layer before '" + name + "'");
}

// From this many multiply-adds on, gemm() splits a product over the threads (core/blas.cpp), and a
// backward pass on two threads runs its two products side by side instead.
constexpr Index kSideBySideMultiplyAdds = Index{1} << 21;

}  // namespace

Dense::Dense(const DenseSpec& spec, Index in_features, std::string name, Rng& rng)
    : spec_(spec), in_features_(in_features), name_(std::move(name)) {
  require(spec_.units >= 1 && in_features_ >= 1, "dense: units and in_features must be >= 1");
  parameters_.push_back(make_parameter("weight", {spec_.units, in_features_}, true));
  if (spec_.bias) parameters_.push_back(make_parameter("bias", {spec_.units}, false));
  init_linear_uniform(weight(), spec_.bias ? &bias() : nullptr, rng);
}

Index Dense::row_count(const Shape& input) {
  return input.element_count() / input[input.rank() - 1];
}

Shape Dense::output_shape(const Shape& input) const {
  if (input.rank() != 2 && input.rank() != 3) throw_rank_error(name_, input);
  const Index features = input[input.rank() - 1];
  if (features != in_features_) {
    throw ShapeError("layer '" + name_ + "' (dense): expects " + std::to_string(in_features_) +
                     " input features, got " + input.to_string());
  }
  return input.with_dim(input.rank() - 1, spec_.units);
}

void Dense::forward(const Tensor& input, Tensor& output, const ForwardContext& /*context*/) {
  output.resize(output_shape(input.shape()));
  const Index rows = row_count(input.shape());
  if (rows == 0) return;
  // (rows, in) x (out, in)^T -> (rows, out)
  gemm(Transpose::no, Transpose::yes, rows, spec_.units, in_features_, 1.0f, input.values(),
       weight().value.values(), 0.0f, output.values());
  if (spec_.bias) {
    const float* b = bias().value.data();
    for (Index r = 0; r < rows; ++r) {
      float* y = output.data() + r * spec_.units;
      for (Index j = 0; j < spec_.units; ++j) y[j] += b[j];
    }
  }
}

void Dense::backward(const Tensor& input, const Tensor& /*output*/, const Tensor& grad_output,
                     Tensor& grad_input) {
  const Index rows = row_count(input.shape());
  grad_input.resize(input.shape());
  if (rows == 0) return;
  auto parameter_gradients = [&] {
    // grad_weight += G^T X: (out, rows) x (rows, in). Accumulates (beta = 1).
    gemm(Transpose::yes, Transpose::no, spec_.units, in_features_, rows, 1.0f, grad_output.values(),
         input.values(), 1.0f, weight().grad.values());
    if (spec_.bias) {
      // grad_bias += column sums of G; row by row so the inner loop is contiguous and vectorises.
      float* grad_b = bias().grad.data();
      for (Index r = 0; r < rows; ++r) {
        const float* g = grad_output.data() + r * spec_.units;
        for (Index j = 0; j < spec_.units; ++j) grad_b[j] += g[j];
      }
    }
  };
  // grad_input = G W: (rows, out) x (out, in). Assigns (beta = 0).
  auto input_gradient = [&] {
    gemm(Transpose::no, Transpose::no, rows, in_features_, spec_.units, 1.0f, grad_output.values(),
         weight().value.values(), 0.0f, grad_input.values());
  };
  if (!input_grad_needed()) {
    parameter_gradients();
    return;
  }
  // The two products have the same multiply-adds (rows * in * out). On two threads, large ones
  // run side by side, one per thread, instead of each split over both in turn: one hand-off
  // instead of two, and each GEMM stays whole. A gemm() on a worker makes the same cblas calls as
  // on the caller (core/blas.cpp), so the results are the same bits. Measured in CPU time on the
  // shared 2-core machine (dlrun_gemm_bench shapes, docs/performance.md): the seed CNN's fc1, its
  // three GEMMs at batch 64, took 10.7 ms this way against 13.8 ms split (11.5 ms on one thread).
  if (thread_count() == 2 && rows * in_features_ * spec_.units >= kSideBySideMultiplyAdds) {
    parallel_for(2, [&](Index begin, Index end) {
      for (Index task = begin; task < end; ++task) {
        if (task == 0) {
          parameter_gradients();
        } else {
          input_gradient();
        }
      }
    });
    return;
  }
  parameter_gradients();
  input_gradient();
}

double Dense::flops_per_example(const Shape& input) const {
  // One example is input[1:]: F features, or T steps of F features.
  const double rows = input.rank() == 3 ? static_cast<double>(input[1]) : 1.0;
  const double per_row = 2.0 * static_cast<double>(in_features_) * static_cast<double>(spec_.units) +
                         (spec_.bias ? static_cast<double>(spec_.units) : 0.0);
  return rows * per_row;
}

std::unique_ptr<Layer> make_dense(Options& options, const LayerBuildContext& context) {
  DenseSpec spec;
  spec.units = options.required_integer("units");
  options.require_at_least("units", static_cast<double>(spec.units), 1.0);
  spec.bias = options.boolean("bias", spec.bias);
  const Shape& input = context.input_shape;
  if (input.rank() != 2 && input.rank() != 3) throw_rank_error(context.name, input);
  if (input[input.rank() - 1] < 1) {
    throw ShapeError("layer '" + context.name + "' (dense): input " + input.to_string() + " has no features");
  }
  require(context.rng != nullptr, "make_dense: LayerBuildContext.rng is null");
  return std::make_unique<Dense>(spec, input[input.rank() - 1], context.name, *context.rng);
}

}  // namespace dlrun
