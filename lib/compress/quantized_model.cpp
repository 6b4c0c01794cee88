#include "compress/quantized_model.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "compress/requantize.hpp"
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

// One row of the im2col matrix transposed: the (channel, kernel row, kernel column) window of output
// position (oh, ow), in the order of the weight's [F, C, KH, KW] layout. Positions outside the image
// hold `pad` (the quantized 0). The bytes from k to lda are left as they are: the packed weights
// there are zero. KH, KW > 0 are the kernel's size known at compile time (a fixed-size copy per
// kernel row, unrolled; a call to memcpy costs more than the 3 bytes of a 3x3 kernel's row), 0 when
// it is not.
template <Index KH, Index KW>
inline void im2row_u8_position(const ConvGeometry& g, const std::uint8_t* image, std::uint8_t pad, Index oh,
                               Index ow, std::uint8_t* row) {
  const Index kernel_h = KH > 0 ? KH : g.kernel_h;
  const Index kernel_w = KW > 0 ? KW : g.kernel_w;
  const Index top = oh * g.stride_h - g.pad_h;
  const Index left = ow * g.stride_w - g.pad_w;
  const bool inside = top >= 0 && top + (kernel_h - 1) * g.dilation_h < g.height && left >= 0 &&
                      left + (kernel_w - 1) * g.dilation_w < g.width;
  if (inside && g.dilation_w == 1) {  // no bounds to check: most windows
    const std::uint8_t* corner = image + top * g.width + left;
    for (Index c = 0; c < g.channels; ++c, corner += g.height * g.width) {
      for (Index i = 0; i < kernel_h; ++i, row += kernel_w)
        std::memcpy(row, corner + i * g.dilation_h * g.width, static_cast<std::size_t>(kernel_w));
    }
    return;
  }
  for (Index c = 0; c < g.channels; ++c) {
    const std::uint8_t* plane = image + c * g.height * g.width;
    for (Index i = 0; i < kernel_h; ++i) {
      const Index h = top + i * g.dilation_h;
      const bool row_inside = h >= 0 && h < g.height;
      for (Index j = 0; j < kernel_w; ++j) {
        const Index w = left + j * g.dilation_w;
        *row++ = row_inside && w >= 0 && w < g.width ? plane[h * g.width + w] : pad;
      }
    }
  }
}

// One sample's rows, one of `lda` bytes per output position, in row-major order of the positions,
// or, with `windows`, grouped by pooling window: the pool_h * pool_w positions of pooled output 0,
// then those of pooled output 1, ... (windows that tile the output without overlap or padding).
template <Index KH, Index KW>
void im2row_u8_as(const ConvGeometry& geometry, const PoolGeometry* windows, const std::uint8_t* image,
                  std::uint8_t pad, std::uint8_t* rows, Index lda) {
  const ConvGeometry g = geometry;  // a local copy: the byte stores below cannot alias it
  if (windows == nullptr) {
    for (Index oh = 0; oh < g.output_h(); ++oh) {
      for (Index ow = 0; ow < g.output_w(); ++ow, rows += lda)
        im2row_u8_position<KH, KW>(g, image, pad, oh, ow, rows);
    }
    return;
  }
  for (Index ph = 0; ph < windows->output_h(); ++ph) {
    for (Index pw = 0; pw < windows->output_w(); ++pw) {
      for (Index i = 0; i < windows->pool_h; ++i) {
        for (Index j = 0; j < windows->pool_w; ++j, rows += lda) {
          im2row_u8_position<KH, KW>(g, image, pad, ph * windows->pool_h + i, pw * windows->pool_w + j, rows);
        }
      }
    }
  }
}

void im2row_u8(const ConvGeometry& g, const PoolGeometry* windows, const std::uint8_t* image,
               std::uint8_t pad, std::uint8_t* rows, Index lda) {
  if (g.kernel_h == 3 && g.kernel_w == 3) {
    im2row_u8_as<3, 3>(g, windows, image, pad, rows, lda);
  } else if (g.kernel_h == 5 && g.kernel_w == 5) {
    im2row_u8_as<5, 5>(g, windows, image, pad, rows, lda);
  } else {
    im2row_u8_as<0, 0>(g, windows, image, pad, rows, lda);
  }
}

// Whether max pooling can run inside the GEMM (gemm_u8s8_max): windows that tile the image without
// overlapping and without padding, so that every pooled output has its whole window of positions.
bool pool_tiles(const PoolGeometry& g) {
  return g.pad_h == 0 && g.pad_w == 0 && g.stride_h == g.pool_h && g.stride_w == g.pool_w;
}

// (positions, channels) -> (channels, positions): one sample's outputs by position into the
// channel planes of the layer's (C, H, W) layout.
template <class T>
void rows_to_planes(const T* rows, Index positions, Index channels, T* planes) {
  for (Index c = 0; c < channels; ++c) {
    T* plane = planes + c * positions;
    const T* column = rows + c;
    for (Index p = 0; p < positions; ++p) plane[p] = column[p * channels];
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

}  // namespace

void U8Tensor::resize(const Shape& new_shape) {
  shape = new_shape;
  grow(values, shape.element_count());
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
    take_channels_last(step, steps_[i + 1]);
  }
}

void QuantizedModel::take_channels_last(Step& conv, Step& dense) {
  if (model_->layer(conv.plan.first).type != "conv2d" || model_->layer(dense.plan.first).type != "dense")
    return;
  const Index features = conv.example_shape.element_count();
  const Index channels = conv.layer->weights.rows;
  const QuantizedWeights& weights = dense.layer->weights;
  if (weights.cols != features) return;  // the dense runs on the last dimension alone
  // The dense layer's input index c * plane + p (the flattened (C, H, W)) becomes p * C + c.
  const Index plane = features / channels;
  std::vector<std::int8_t> permuted(weights.values.size());
  for (Index u = 0; u < weights.rows; ++u) {
    const std::int8_t* from = weights.values.data() + u * features;
    std::int8_t* to = permuted.data() + u * features;
    for (Index c = 0; c < channels; ++c) {
      for (Index p = 0; p < plane; ++p) to[p * channels + c] = from[c * plane + p];
    }
  }
  dense.packed = pack_u8s8_weights(permuted.data(), weights.rows, features, dense.packed.kernel);
  conv.channels_last = true;
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
  // With windows that tile the output, the GEMM takes each window's rows together and keeps their
  // maximum; other pools run on the sums afterwards. Either way the sums are pooled before they are
  // requantized (which is increasing in the sum: its scales are > 0), leaving a quarter to requantize.
  const bool pool_in_gemm = step.pool && pool_tiles(pool);
  const Index plane = step.pool ? pool.output_size() : positions;
  const Index group = pool_in_gemm ? pool.pool_h * pool.pool_w : 1;
  const Index rows_per_sample = pool_in_gemm ? plane * group : positions;
  const Index sums_per_sample = (pool_in_gemm ? plane : positions) * filters;
  const Shape shape = step.example_shape.with_batch(batch);
  if (step.u8_output) {
    step.u8_out.resize(shape);
  } else {
    step.float_out.resize(shape);
  }
  const float low = step.plan.relu ? static_cast<float>(step.output.zero_point) : 0.0f;
  // One sample's (pooled) sums (plane, filters) -> its output (filters, plane): requantized row by
  // row (vectorised over the filters), then transposed into channel planes, unless the next step
  // takes them as they are (channels_last).
  const auto write = [&](Workspace& w, const std::int32_t* sums, Index sample) {
    if (step.pool && !pool_in_gemm) {
      grow(w.pooled, plane * filters);
      max_pool_rows(pool, sums, filters, w.pooled.data());
      sums = w.pooled.data();
    }
    if (step.u8_output && step.channels_last) {
      requantize_rows(sums, plane, filters, step.multiplier.data(), step.offset.data(), low,
                      step.u8_out.values.data() + sample * filters * plane);
    } else if (step.u8_output) {
      grow(w.u8_rows, plane * filters);
      requantize_rows(sums, plane, filters, step.multiplier.data(), step.offset.data(), low,
                      w.u8_rows.data());
      rows_to_planes(w.u8_rows.data(), plane, filters, step.u8_out.values.data() + sample * filters * plane);
    } else {
      grow(w.float_rows, plane * filters);
      dequantize_rows(sums, plane, filters, step.scale.data(), step.layer->bias.data(), step.plan.relu,
                      w.float_rows.data());
      rows_to_planes(w.float_rows.data(), plane, filters, step.float_out.data() + sample * filters * plane);
    }
  };
  // Samples per GEMM: a few hundred rows, enough to amortise the packed weights' reads.
  const Index block =
      std::clamp<Index>(512 / std::max<Index>(rows_per_sample, 1), 1, std::max<Index>(batch, 1));
  const Index workers = prepare_workers(batch);
  for_workers(workers, [&](Index worker) {
    Workspace& w = workspaces_[static_cast<std::size_t>(worker)];
    const Index begin = batch * worker / workers;
    const Index end = batch * (worker + 1) / workers;
    for (Index first = begin; first < end; first += block) {
      const Index samples = std::min(end, first + block) - first;
      const Index m = samples * rows_per_sample;
      grow(w.rows, m * lda);
      grow(w.products, samples * sums_per_sample);
      for (Index s = 0; s < samples; ++s) {
        im2row_u8(g, pool_in_gemm ? &pool : nullptr, input.values.data() + (first + s) * g.image_size(),
                  zero_point, w.rows.data() + s * rows_per_sample * lda, lda);
      }
      gemm_u8s8_max(m, group, w.rows.data(), lda, step.layer->input.zero_point, step.packed,
                    w.products.data(), w.scratch);
      for (Index s = 0; s < samples; ++s) write(w, w.products.data() + s * sums_per_sample, first + s);
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
              w.products.data(), w.scratch.shifted);
    if (step.u8_output) {
      requantize_rows(w.products.data(), end - begin, units, step.multiplier.data(), step.offset.data(), low,
                      step.u8_out.values.data() + begin * units);
    } else {
      dequantize_rows(w.products.data(), end - begin, units, step.scale.data(), step.layer->bias.data(),
                      step.plan.relu, step.float_out.data() + begin * units);
    }
  });
}

const Tensor& QuantizedModel::forward(const Tensor& input, Index depth) {
  if (depth < 0 || depth > model_->size()) depth = model_->size();
  const Tensor* current = &input;
  const U8Tensor* quantized = nullptr;  // when the current activations are uint8
  const ActivationQuantization* quantization = nullptr;
  const Step* last_channels_last = nullptr;  // the step that wrote `quantized`, if by position
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
        last_channels_last = step.channels_last ? &step : nullptr;
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
    const Index count = quantized->shape.element_count();
    dequantized_.resize(quantized->shape);
    if (last_channels_last) {  // back to the layer's (C, H, W) order
      grow(channels_last_, count);
      dequantize_values({quantized->values.data(), static_cast<std::size_t>(count)}, *quantization,
                        channels_last_.data());
      const Index batch = quantized->shape[0];
      const Index channels = last_channels_last->layer->weights.rows;
      const Index plane = count / batch / channels;
      for (Index n = 0; n < batch; ++n) {
        rows_to_planes(channels_last_.data() + n * plane * channels, plane, channels,
                       dequantized_.data() + n * plane * channels);
      }
    } else {
      dequantize_values({quantized->values.data(), static_cast<std::size_t>(count)}, *quantization,
                        dequantized_.data());
    }
    current = &dequantized_;
  }
  return *current;
}

}  // namespace dlrun
