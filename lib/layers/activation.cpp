#include "layers/activation.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/errors.hpp"
#include "core/threads.hpp"

namespace dlrun {
namespace {

// Elements per thread below which a second thread costs more than it saves: cheap ops are
// memory-bound, transcendental ones (exp, erf, tanh) cost 10-20 ns per element.
constexpr Index kCheapChunk = Index{1} << 16;
constexpr Index kCostlyChunk = Index{1} << 13;

struct NamedFunction {
  std::string_view name;
  ActivationFunction function;
};
constexpr NamedFunction kFunctions[] = {
    {"elu", ActivationFunction::elu},
    {"gelu", ActivationFunction::gelu},
    {"leaky_relu", ActivationFunction::leaky_relu},
    {"linear", ActivationFunction::linear},
    {"none", ActivationFunction::linear},
    {"relu", ActivationFunction::relu},
    {"sigmoid", ActivationFunction::sigmoid},
    {"softmax", ActivationFunction::softmax},
    {"tanh", ActivationFunction::tanh},
};

// parallel_for, but small tensors run inline without building a std::function, and the closure
// handed over is one reference wide so std::function stores it without allocating.
template <typename Body>
void run_chunked(Index count, Index min_chunk, const Body& body) {
  if (count < 2 * min_chunk) {
    body(Index{0}, count);
    return;
  }
  parallel_for(
      count, [&body](Index begin, Index end) { body(begin, end); }, min_chunk);
}

bool is_cheap(ActivationFunction function) {
  return function == ActivationFunction::linear || function == ActivationFunction::relu ||
         function == ActivationFunction::leaky_relu;
}

// y = f(x) over [begin, end). Each case is a plain loop; the ones without libm calls vectorise
// (GCC needs -O3 or -fvect-cost-model=cheap for loops of unknown length).
void activation_forward(const ActivationSpec& spec, const float* x, float* y, Index begin, Index end) {
  switch (spec.function) {
    case ActivationFunction::linear:
      std::copy(x + begin, x + end, y + begin);
      break;
    case ActivationFunction::relu:
      for (Index i = begin; i < end; ++i) y[i] = x[i] <= 0.0f ? 0.0f : x[i];  // keeps NaN, as PyTorch
      break;
    case ActivationFunction::leaky_relu: {
      const float slope = spec.negative_slope;
      // pos + slope * neg rather than a select of x and x * slope: with trapping math GCC will not
      // if-convert a select with a multiplication on one side, and the loop would not vectorise.
      for (Index i = begin; i < end; ++i) {
        const float v = x[i];
        const bool positive = v > 0.0f;
        y[i] = (positive ? v : 0.0f) + slope * (positive ? 0.0f : v);
      }
      break;
    }
    case ActivationFunction::elu: {
      const float alpha = spec.alpha;
      for (Index i = begin; i < end; ++i) y[i] = x[i] > 0.0f ? x[i] : alpha * std::expm1(x[i]);
      break;
    }
    case ActivationFunction::gelu:
      // Exact form (PyTorch's default approximate='none'): x * Phi(x), Phi(x) = (1 + erf(x/sqrt2)) / 2.
      for (Index i = begin; i < end; ++i) {
        y[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * std::numbers::sqrt2_v<float> * 0.5f));
      }
      break;
    case ActivationFunction::sigmoid:
      // exp(-x) overflows to inf for x < -88 and the result is then exactly 0: no NaN.
      for (Index i = begin; i < end; ++i) y[i] = 1.0f / (1.0f + std::exp(-x[i]));
      break;
    case ActivationFunction::tanh:
      for (Index i = begin; i < end; ++i) y[i] = std::tanh(x[i]);
      break;
    case ActivationFunction::softmax:
      require(false, "softmax is not elementwise");
  }
}

// grad_x = f'(x) * grad_y over [begin, end), from whichever of x and y gives f' most simply.
void activation_backward(const ActivationSpec& spec, const float* x, const float* y, const float* g,
                         float* grad_x, Index begin, Index end) {
  switch (spec.function) {
    case ActivationFunction::linear:
      std::copy(g + begin, g + end, grad_x + begin);
      break;
    case ActivationFunction::relu:
      for (Index i = begin; i < end; ++i) {
        const float gi = g[i];  // loaded unconditionally, so the select vectorises
        grad_x[i] = x[i] > 0.0f ? gi : 0.0f;
      }
      break;
    case ActivationFunction::leaky_relu: {
      const float slope = spec.negative_slope;
      for (Index i = begin; i < end; ++i) {
        const float gi = g[i];
        const bool positive = x[i] > 0.0f;
        grad_x[i] = (positive ? gi : 0.0f) + slope * (positive ? 0.0f : gi);
      }
      break;
    }
    case ActivationFunction::elu: {
      const float alpha = spec.alpha;
      for (Index i = begin; i < end; ++i) grad_x[i] = x[i] > 0.0f ? g[i] : g[i] * alpha * std::exp(x[i]);
      break;
    }
    case ActivationFunction::gelu: {
      // d/dx x Phi(x) = Phi(x) + x phi(x), phi(x) = exp(-x^2/2) / sqrt(2 pi).
      const float inv_sqrt_2pi = 0.5f * std::numbers::inv_sqrtpi_v<float> * std::numbers::sqrt2_v<float>;
      for (Index i = begin; i < end; ++i) {
        const float cdf = 0.5f * (1.0f + std::erf(x[i] * std::numbers::sqrt2_v<float> * 0.5f));
        const float pdf = inv_sqrt_2pi * std::exp(-0.5f * x[i] * x[i]);
        grad_x[i] = g[i] * (cdf + x[i] * pdf);
      }
      break;
    }
    case ActivationFunction::sigmoid:
      for (Index i = begin; i < end; ++i) grad_x[i] = g[i] * y[i] * (1.0f - y[i]);
      break;
    case ActivationFunction::tanh:
      for (Index i = begin; i < end; ++i) grad_x[i] = g[i] * (1.0f - y[i] * y[i]);
      break;
    case ActivationFunction::softmax:
      require(false, "softmax is not elementwise");
  }
}

// Rows [begin, end) of a (rows, cols) matrix: y = exp(x - max) / sum, stable for any logits.
void softmax_forward(const float* x, float* y, Index cols, Index begin, Index end) {
  for (Index r = begin; r < end; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    const float max = *std::max_element(xr, xr + cols);
    float sum = 0.0f;
    for (Index j = 0; j < cols; ++j) {
      yr[j] = std::exp(xr[j] - max);
      sum += yr[j];
    }
    const float inv = 1.0f / sum;
    for (Index j = 0; j < cols; ++j) yr[j] *= inv;
  }
}

// grad_x = y * (g - <g, y>) per row (the Jacobian of softmax is diag(y) - y y^T).
void softmax_backward(const float* y, const float* g, float* grad_x, Index cols, Index begin, Index end) {
  for (Index r = begin; r < end; ++r) {
    const float* yr = y + r * cols;
    const float* gr = g + r * cols;
    float* out = grad_x + r * cols;
    float dot = 0.0f;
    for (Index j = 0; j < cols; ++j) dot += gr[j] * yr[j];
    for (Index j = 0; j < cols; ++j) out[j] = yr[j] * (gr[j] - dot);
  }
}

std::unique_ptr<Layer> build_activation(const std::string& function, std::string_view key, Options& options,
                                        const std::string& layer_name) {
  const auto found = std::find_if(std::begin(kFunctions), std::end(kFunctions),
                                  [&](const NamedFunction& entry) { return entry.name == function; });
  if (found == std::end(kFunctions)) {
    std::string known;
    for (const auto& name : activation_names()) known += (known.empty() ? "" : ", ") + name;
    options.fail(key, "unknown activation '" + function + "'" + did_you_mean(function, activation_names()) +
                          "; known: " + known);
  }
  ActivationSpec spec;
  spec.function = found->function;
  if (spec.function == ActivationFunction::leaky_relu) {
    spec.negative_slope = static_cast<float>(options.number("negative_slope", spec.negative_slope));
  }
  if (spec.function == ActivationFunction::elu) {
    spec.alpha = static_cast<float>(options.number("alpha", spec.alpha));
  }
  return std::make_unique<Activation>(spec, layer_name);
}

}  // namespace

const std::vector<std::string>& activation_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> result;
    for (const auto& entry : kFunctions) result.emplace_back(entry.name);
    return result;
  }();
  return names;
}

std::string_view activation_name(ActivationFunction function) {
  for (const auto& entry : kFunctions) {
    if (entry.function == function) return entry.name;  // "linear" comes before its alias "none"
  }
  return "?";
}

Activation::Activation(const ActivationSpec& spec, std::string name) : spec_(spec), name_(std::move(name)) {}

Shape Activation::output_shape(const Shape& input) const {
  if (input.rank() < 1) throw ShapeError("layer '" + name_ + "' (activation): input has no batch axis");
  if (is_softmax() && input.rank() < 2) {
    throw ShapeError("layer '" + name_ + "' (softmax): needs a feature axis to normalise over, got " +
                     input.to_string());
  }
  return input;
}

void Activation::forward(const Tensor& input, Tensor& output, const ForwardContext& /*context*/) {
  output.resize(output_shape(input.shape()));
  const float* x = input.data();
  float* y = output.data();
  if (is_softmax()) {
    const Shape& shape = input.shape();
    const Index cols = shape[shape.rank() - 1];
    if (cols == 0) return;
    run_chunked(input.size() / cols, std::max<Index>(1, kCostlyChunk / cols),
                [&](Index begin, Index end) { softmax_forward(x, y, cols, begin, end); });
    return;
  }
  run_chunked(input.size(), is_cheap(spec_.function) ? kCheapChunk : kCostlyChunk,
              [&](Index begin, Index end) { activation_forward(spec_, x, y, begin, end); });
}

void Activation::backward(const Tensor& input, const Tensor& output, const Tensor& grad_output,
                          Tensor& grad_input) {
  grad_input.resize(input.shape());
  const float* x = input.data();
  const float* y = output.data();
  const float* g = grad_output.data();
  float* grad_x = grad_input.data();
  if (is_softmax()) {
    const Shape& shape = input.shape();
    const Index cols = shape[shape.rank() - 1];
    if (cols == 0) return;
    run_chunked(input.size() / cols, std::max<Index>(1, kCheapChunk / cols),
                [&](Index begin, Index end) { softmax_backward(y, g, grad_x, cols, begin, end); });
    return;
  }
  run_chunked(input.size(), is_cheap(spec_.function) ? kCheapChunk : kCostlyChunk,
              [&](Index begin, Index end) { activation_backward(spec_, x, y, g, grad_x, begin, end); });
}

double Activation::flops_per_example(const Shape& input) const {
  // One operation per element (a few for softmax); small next to the layers around it.
  if (is_identity() || input.rank() < 1) return 0.0;
  const double elements = static_cast<double>(input.without_batch().element_count());
  return is_softmax() ? 3.0 * elements : elements;
}

std::unique_ptr<Layer> make_activation_layer(const std::string& function, Options& options,
                                             const std::string& layer_name) {
  return build_activation(function, "activation", options, layer_name);
}

std::unique_ptr<Layer> make_activation(Options& options, const LayerBuildContext& context) {
  // `activation: relu` is Keras's spelling (Activation('relu')); `function:` is dlrun's first one.
  if (options.has("activation") && options.has("function")) {
    options.fail("function", "give the function once: activation: (or its alias function:), not both");
  }
  const char* key = options.has("function") ? "function" : "activation";
  const std::string function = options.required_string(key);
  std::unique_ptr<Layer> layer = build_activation(function, key, options, context.name);
  layer->output_shape(context.input_shape);  // softmax on an (N,) input fails here, at build time
  return layer;
}

}  // namespace dlrun
