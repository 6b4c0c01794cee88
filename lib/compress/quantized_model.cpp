#include "compress/quantized_model.hpp"

#include <algorithm>
#include <cmath>

#include "core/errors.hpp"
#include "core/threads.hpp"
#include "layers/batchnorm.hpp"
#include "layers/conv2d.hpp"
#include "layers/dense.hpp"
#include "layers/pooling.hpp"

namespace dlrun {
namespace {

const Parameter* find_parameter(Layer& layer, std::string_view name) {
  for (const Parameter& parameter : layer.parameters()) {
    if (parameter.name == name) return &parameter;
  }
  return nullptr;
}

template <class T>
void grow(std::vector<T>& buffer, Index count) {
  if (static_cast<Index>(buffer.size()) < count) buffer.resize(static_cast<std::size_t>(count));
}

// Rows of the im2col matrix transposed: one row of `lda` bytes per output position, holding the
// (channel, kernel row, kernel column) window in the order of the weight's [F, C, KH, KW] layout.
// Positions outside the image hold `pad` (the quantized 0); the bytes past k hold 0.
void im2row_u8(const ConvGeometry& g, const std::uint8_t* image, std::uint8_t pad, std::uint8_t* rows,
               Index lda) {
  const Index out_h = g.output_h();
  const Index out_w = g.output_w();
  const Index k = g.column_rows();
  for (Index oh = 0; oh < out_h; ++oh) {
    for (Index ow = 0; ow < out_w; ++ow) {
      std::uint8_t* row = rows + (oh * out_w + ow) * lda;
      const Index top = oh * g.stride_h - g.pad_h;
      const Index left = ow * g.stride_w - g.pad_w;
      const bool inside = top >= 0 && top + (g.kernel_h - 1) * g.dilation_h < g.height && left >= 0 &&
                          left + (g.kernel_w - 1) * g.dilation_w < g.width;
      Index column = 0;
      for (Index c = 0; c < g.channels; ++c) {
        const std::uint8_t* plane = image + c * g.height * g.width;
        for (Index i = 0; i < g.kernel_h; ++i) {
          const Index h = top + i * g.dilation_h;
          if (inside) {  // no bounds to check: most windows
            const std::uint8_t* source = plane + h * g.width + left;
            for (Index j = 0; j < g.kernel_w; ++j) row[column++] = source[j * g.dilation_w];
            continue;
          }
          const bool row_inside = h >= 0 && h < g.height;
          for (Index j = 0; j < g.kernel_w; ++j) {
            const Index w = left + j * g.dilation_w;
            row[column++] = row_inside && w >= 0 && w < g.width ? plane[h * g.width + w] : pad;
          }
        }
      }
      std::fill(row + k, row + lda, std::uint8_t{0});
    }
  }
}

// Max pooling of one sample's int32 sums by position (H*W, channels) into (OH*OW, channels), padding
// never winning (as MaxPool2d). The requantization is increasing in the sum (its scales are > 0),
// so pooling the sums gives the pooled outputs, with a quarter of them left to requantize, and the
// channels side by side make the maxima vectorise.
void max_pool_rows(const PoolGeometry& g, const std::int32_t* x, Index channels, std::int32_t* y) {
  const Index out_h = g.output_h();
  const Index out_w = g.output_w();
  for (Index oh = 0; oh < out_h; ++oh) {
    for (Index ow = 0; ow < out_w; ++ow) {
      std::int32_t* out = y + (oh * out_w + ow) * channels;
      bool first = true;
      for (Index i = 0; i < g.pool_h; ++i) {
        const Index h = oh * g.stride_h - g.pad_h + i;
        if (h < 0 || h >= g.height) continue;
        for (Index j = 0; j < g.pool_w; ++j) {
          const Index w = ow * g.stride_w - g.pad_w + j;
          if (w < 0 || w >= g.width) continue;
          const std::int32_t* in = x + (h * g.width + w) * channels;
          if (first) {
            std::copy(in, in + channels, out);
            first = false;
          } else {
            for (Index c = 0; c < channels; ++c) out[c] = in[c] > out[c] ? in[c] : out[c];
          }
        }
      }
    }
  }
}

// Round half to even for |v| < 2^22 by adding and taking off 1.5 * 2^23, as nearbyint does in the
// default rounding mode, but inline and vectorised (the baseline x86-64 build has no roundps, and
// nearbyint is a library call per value).
inline float round_even(float v) {
  constexpr float kMagic = 12582912.0f;
  return (v + kMagic) - kMagic;
}

}  // namespace

void U8Tensor::resize(const Shape& new_shape) {
  shape = new_shape;
  grow(values, shape.element_count());
}

void quantize_values(std::span<const float> x, const ActivationQuantization& q, std::uint8_t* out) {
  // Divided, not multiplied by the inverse, and rounded before the zero point is added: the same
  // levels as quantize_activation, ties included. Clamped first (NaN to the low end), so that the
  // rounding trick's range holds.
  const auto zero = static_cast<float>(q.zero_point);
  for (std::size_t i = 0; i < x.size(); ++i) {
    float v = x[i] / q.scale;
    v = v > -256.0f ? (v < 256.0f ? v : 256.0f) : -256.0f;
    v = round_even(v) + zero;
    out[i] =
        static_cast<std::uint8_t>(static_cast<std::int32_t>(v > 0.0f ? (v < 255.0f ? v : 255.0f) : 0.0f));
  }
}

void dequantize_values(std::span<const std::uint8_t> q, const ActivationQuantization& a, float* out) {
  for (std::size_t i = 0; i < q.size(); ++i) out[i] = a.scale * static_cast<float>(q[i] - a.zero_point);
}

QuantizedLayer quantize_step(Model& model, const QuantizationStep& step, float low, float high) {
  require(step.int8, "quantize_step: a float step");
  ModelLayer& linear = model.layer(step.first);
  const Parameter* weight = find_parameter(*linear.layer, "weight");
  const Parameter* bias = find_parameter(*linear.layer, "bias");
  require(weight != nullptr, "quantize_step: " + linear.name + " has no weight");
  Tensor folded = weight->value;
  const Index outputs = folded.shape()[0];
  const Index per_output = folded.size() / outputs;
  std::vector<float> folded_bias(static_cast<std::size_t>(outputs), 0.0f);
  if (bias != nullptr)
    std::copy(bias->value.values().begin(), bias->value.values().end(), folded_bias.begin());
  if (step.batchnorm >= 0) {
    // y = gamma (x - mean) / sqrt(var + eps) + beta over the layer's outputs x = W a + b:
    // W' = s W and b' = s (b - mean) + beta per output channel, s = gamma / sqrt(var + eps).
    auto& norm = static_cast<BatchNorm&>(*model.layer(step.batchnorm).layer);
    const Parameter* gamma = find_parameter(norm, "weight");
    const Parameter* beta = find_parameter(norm, "bias");
    const Parameter* mean = find_parameter(norm, "running_mean");
    const Parameter* var = find_parameter(norm, "running_var");
    require(mean != nullptr && var != nullptr && mean->value.size() == outputs,
            "quantize_step: batchnorm " + model.layer(step.batchnorm).name + " does not fit " + linear.name);
    for (Index f = 0; f < outputs; ++f) {
      const double g = gamma != nullptr ? gamma->value[f] : 1.0;
      const double s = g / std::sqrt(static_cast<double>(var->value[f]) + norm.eps());
      float* row = folded.data() + f * per_output;
      for (Index i = 0; i < per_output; ++i) row[i] = static_cast<float>(row[i] * s);
      const double shift = beta != nullptr ? beta->value[f] : 0.0;
      folded_bias[static_cast<std::size_t>(f)] =
          static_cast<float>((folded_bias[static_cast<std::size_t>(f)] - mean->value[f]) * s + shift);
    }
  }
  QuantizedLayer layer;
  layer.name = linear.name;
  layer.weight_shape = folded.shape();
  layer.weights = quantize_weights_per_channel(folded);
  layer.bias = std::move(folded_bias);
  layer.input = activation_quantization(low, high);
  return layer;
}

QuantizedModel::QuantizedModel(Model& model, std::vector<QuantizedLayer> layers,
                               std::optional<Int8Kernel> kernel)
    : model_(&model), plan_(plan_quantization(model)), layers_(std::move(layers)) {
  std::size_t next_layer = 0;
  for (const QuantizationStep& planned : plan_) {
    Step step;
    step.plan = planned;
    step.example_shape = model.layer(planned.end - 1).output_shape.without_batch();
    if (planned.int8) {
      require(next_layer < layers_.size() && layers_[next_layer].name == model.layer(planned.first).name,
              "QuantizedModel: the quantized layers do not follow the model's int8 steps");
      step.layer = &layers_[next_layer++];
      prepare_int8(step, kernel);
    }
    steps_.push_back(std::move(step));
  }
  require(next_layer == layers_.size(), "QuantizedModel: more quantized layers than int8 steps");
  // An int8 step followed by another writes its output already quantized for it.
  for (std::size_t i = 0; i + 1 < steps_.size(); ++i) {
    Step& step = steps_[i];
    if (!step.plan.int8 || !steps_[i + 1].plan.int8) continue;
    step.u8_output = true;
    step.output = steps_[i + 1].layer->input;
    const std::size_t outputs = step.scale.size();
    step.multiplier.resize(outputs);
    step.offset.resize(outputs);
    for (std::size_t f = 0; f < outputs; ++f) {
      step.multiplier[f] = step.scale[f] / step.output.scale;
      step.offset[f] = step.layer->bias[f] / step.output.scale + static_cast<float>(step.output.zero_point);
    }
  }
}

void QuantizedModel::prepare_int8(Step& step, std::optional<Int8Kernel> kernel) {
  const QuantizedLayer& layer = *step.layer;
  const ModelLayer& linear = model_->layer(step.plan.first);
  const Parameter* weight = find_parameter(*linear.layer, "weight");
  require(weight != nullptr && weight->value.shape() == layer.weight_shape &&
              layer.weights.rows * layer.weights.cols == layer.weight_shape.element_count() &&
              static_cast<Index>(layer.bias.size()) == layer.weights.rows,
          "QuantizedModel: " + layer.name + "'s quantized weights do not fit the layer");
  step.packed =
      kernel ? pack_u8s8_weights(layer.weights.values.data(), layer.weights.rows, layer.weights.cols, *kernel)
             : pack_u8s8_weights(layer.weights.values.data(), layer.weights.rows, layer.weights.cols);
  step.scale.resize(layer.weights.scales.size());
  for (std::size_t f = 0; f < step.scale.size(); ++f)
    step.scale[f] = layer.input.scale * layer.weights.scales[f];
  if (step.plan.maxpool >= 0) {
    step.pool = static_cast<const MaxPool2d&>(*model_->layer(step.plan.maxpool).layer).spec();
  }
}

Index QuantizedModel::prepare_workers(Index work) {
  const Index workers = std::clamp<Index>(thread_count(), 1, std::max<Index>(work, 1));
  if (static_cast<Index>(workspaces_.size()) < workers) workspaces_.resize(static_cast<std::size_t>(workers));
  return workers;
}

namespace {

// Calls run(worker) for workers [0, count) on the thread pool.
template <class Run>
void for_workers(Index count, const Run& run) {
  if (count == 1) {
    run(0);
    return;
  }
  parallel_for(count, [&](Index first, Index last) {
    for (Index worker = first; worker < last; ++worker) run(worker);
  });
}

// The int32 sums of a step for one row of outputs, requantized for the next int8 step: clamped
// to [low, 255] (low is the zero point with relu) and rounded.
void requantize_row(const std::int32_t* sums, Index n, const float* multiplier, const float* offset,
                    float low, std::uint8_t* out) {
  for (Index f = 0; f < n; ++f) {
    const float v = std::min(std::max(static_cast<float>(sums[f]) * multiplier[f] + offset[f], low), 255.0f);
    out[f] = static_cast<std::uint8_t>(static_cast<std::int32_t>(round_even(v)));
  }
}

// ... or turned into floats: input scale x weight scale x sum + bias, then relu.
void dequantize_row(const std::int32_t* sums, Index n, const float* scale, const float* bias, bool relu,
                    float* out) {
  for (Index f = 0; f < n; ++f) {
    const float y = static_cast<float>(sums[f]) * scale[f] + bias[f];
    out[f] = relu ? std::max(y, 0.0f) : y;
  }
}

}  // namespace

void QuantizedModel::run_conv(Step& step, const U8Tensor& input) {
  const auto& conv = static_cast<const Conv2d&>(*model_->layer(step.plan.first).layer);
  const ConvGeometry g = conv.geometry(input.shape);
  const Index batch = input.shape[0];
  const Index positions = g.column_cols();
  const Index k = g.column_rows();
  const Index lda = (k + 3) / 4 * 4;
  const Index filters = step.layer->weights.rows;
  const auto zero_point = static_cast<std::uint8_t>(step.layer->input.zero_point);
  PoolGeometry pool;
  if (step.pool) {
    pool = PoolGeometry{g.output_h(),        g.output_w(),        step.pool->pool_h, step.pool->pool_w,
                        step.pool->stride_h, step.pool->stride_w, step.pool->pad_h,  step.pool->pad_w};
  }
  const Index plane = step.pool ? pool.output_size() : positions;
  const Shape shape = step.example_shape.with_batch(batch);
  if (step.u8_output) {
    step.u8_out.resize(shape);
  } else {
    step.float_out.resize(shape);
  }
  const float low = step.plan.relu ? static_cast<float>(step.output.zero_point) : 0.0f;
  // One sample's sums (positions, filters) -> its output (filters, plane): max pooled first when
  // a maxpool2d follows, requantized row by row (vectorised over the filters), then transposed into
  // channel planes.
  const auto write = [&](Workspace& w, const std::int32_t* sums, auto* out) {
    using T = std::remove_pointer_t<decltype(out)>;
    if (step.pool) {
      grow(w.pooled, plane * filters);
      max_pool_rows(pool, sums, filters, w.pooled.data());
      sums = w.pooled.data();
    }
    std::vector<T>& rows = [&]() -> std::vector<T>& {
      if constexpr (std::is_same_v<T, float>) {
        return w.float_rows;
      } else {
        return w.u8_rows;
      }
    }();
    grow(rows, filters * plane);
    for (Index p = 0; p < plane; ++p) {
      if constexpr (std::is_same_v<T, float>) {
        dequantize_row(sums + p * filters, filters, step.scale.data(), step.layer->bias.data(),
                       step.plan.relu, rows.data() + p * filters);
      } else {
        requantize_row(sums + p * filters, filters, step.multiplier.data(), step.offset.data(), low,
                       rows.data() + p * filters);
      }
    }
    for (Index p = 0; p < plane; ++p) {
      for (Index f = 0; f < filters; ++f)
        out[f * plane + p] = rows[static_cast<std::size_t>(p * filters + f)];
    }
  };
  // Samples per GEMM: a few hundred rows, enough to amortise the packed weights' reads.
  const Index block = std::clamp<Index>(512 / std::max<Index>(positions, 1), 1, std::max<Index>(batch, 1));
  const Index workers = prepare_workers(batch);
  for_workers(workers, [&](Index worker) {
    Workspace& w = workspaces_[static_cast<std::size_t>(worker)];
    const Index begin = batch * worker / workers;
    const Index end = batch * (worker + 1) / workers;
    for (Index first = begin; first < end; first += block) {
      const Index samples = std::min(end, first + block) - first;
      const Index m = samples * positions;
      grow(w.rows, m * lda);
      grow(w.products, m * filters);
      for (Index s = 0; s < samples; ++s) {
        im2row_u8(g, input.values.data() + (first + s) * g.image_size(), zero_point,
                  w.rows.data() + s * positions * lda, lda);
      }
      gemm_u8s8(m, w.rows.data(), lda, step.layer->input.zero_point, step.packed, w.products.data(),
                w.scratch);
      for (Index s = 0; s < samples; ++s) {
        const std::int32_t* sums = w.products.data() + s * positions * filters;
        if (step.u8_output) {
          write(w, sums, step.u8_out.values.data() + (first + s) * filters * plane);
        } else {
          write(w, sums, step.float_out.data() + (first + s) * filters * plane);
        }
      }
    }
  });
}

void QuantizedModel::run_dense(Step& step, const U8Tensor& input) {
  const auto& dense = static_cast<const Dense&>(*model_->layer(step.plan.first).layer);
  const Index in = dense.in_features();
  const Index units = dense.units();
  const Index rows = input.shape.element_count() / in;
  const Shape shape = step.example_shape.with_batch(input.shape[0]);
  if (step.u8_output) {
    step.u8_out.resize(shape);
  } else {
    step.float_out.resize(shape);
  }
  const float low = step.plan.relu ? static_cast<float>(step.output.zero_point) : 0.0f;
  // Row blocks of 8 (the VNNI kernel's) per worker.
  const Index workers = prepare_workers((rows + 7) / 8);
  for_workers(workers, [&](Index worker) {
    Workspace& w = workspaces_[static_cast<std::size_t>(worker)];
    const Index blocks = (rows + 7) / 8;
    const Index begin = std::min(rows, blocks * worker / workers * 8);
    const Index end = std::min(rows, blocks * (worker + 1) / workers * 8);
    if (begin >= end) return;
    grow(w.products, (end - begin) * units);
    gemm_u8s8(end - begin, input.values.data() + begin * in, in, step.layer->input.zero_point, step.packed,
              w.products.data(), w.scratch);
    for (Index r = begin; r < end; ++r) {
      const std::int32_t* sums = w.products.data() + (r - begin) * units;
      if (step.u8_output) {
        requantize_row(sums, units, step.multiplier.data(), step.offset.data(), low,
                       step.u8_out.values.data() + r * units);
      } else {
        dequantize_row(sums, units, step.scale.data(), step.layer->bias.data(), step.plan.relu,
                       step.float_out.data() + r * units);
      }
    }
  });
}

const Tensor& QuantizedModel::forward(const Tensor& input, Index depth) {
  if (depth < 0 || depth > model_->size()) depth = model_->size();
  const Tensor* current = &input;
  const U8Tensor* quantized = nullptr;  // when the current activations are uint8
  const ActivationQuantization* quantization = nullptr;
  const ForwardContext context{Mode::eval, nullptr};
  for (Step& step : steps_) {
    if (step.plan.first >= depth) break;
    require(step.plan.end <= depth, "QuantizedModel: a forward pass may not stop inside a step");
    if (step.plan.int8) {
      if (quantized == nullptr) {
        step.quantized_input.resize(current->shape());
        quantize_values(current->values(), step.layer->input, step.quantized_input.values.data());
        quantized = &step.quantized_input;
      }
      if (model_->layer(step.plan.first).type == "conv2d") {
        run_conv(step, *quantized);
      } else {
        run_dense(step, *quantized);
      }
      if (step.u8_output) {
        quantized = &step.u8_out;
        quantization = &step.output;
      } else {
        quantized = nullptr;
        current = &step.float_out;
      }
      continue;
    }
    if (quantized != nullptr) {
      dequantized_.resize(quantized->shape);
      dequantize_values(
          {quantized->values.data(), static_cast<std::size_t>(quantized->shape.element_count())},
          *quantization, dequantized_.data());
      current = &dequantized_;
      quantized = nullptr;
    }
    model_->layer(step.plan.first).layer->forward(*current, step.float_out, context);
    current = &step.float_out;
  }
  if (quantized != nullptr) {  // stopped between two int8 steps
    dequantized_.resize(quantized->shape);
    dequantize_values({quantized->values.data(), static_cast<std::size_t>(quantized->shape.element_count())},
                      *quantization, dequantized_.data());
    current = &dequantized_;
  }
  return *current;
}

}  // namespace dlrun
