#include "compress/quantized_model.hpp"

#include <algorithm>
#include <cmath>

#include "compress/requantize.hpp"
#include "core/errors.hpp"
#include "core/threads.hpp"
#include "layers/batchnorm.hpp"
#include "layers/conv2d.hpp"
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
// position (oh, ow), in the order of the weight's [F, C, KH, KW] layout, positions outside the image
// holding `pad` (the quantized 0). The bytes from k to lda are left as they are: the packed weights
// there are zero. Byte by byte: for the windows the padding clips.
void im2row_u8_position(const ConvGeometry& g, const std::uint8_t* image, std::uint8_t pad, Index oh,
                        Index ow, std::uint8_t* row) {
  const Index top = oh * g.stride_h - g.pad_h;
  const Index left = ow * g.stride_w - g.pad_w;
  for (Index c = 0; c < g.channels; ++c) {
    const std::uint8_t* plane = image + c * g.height * g.width;
    for (Index i = 0; i < g.kernel_h; ++i) {
      const Index h = top + i * g.dilation_h;
      const bool row_inside = h >= 0 && h < g.height;
      for (Index j = 0; j < g.kernel_w; ++j) {
        const Index w = left + j * g.dilation_w;
        *row++ = row_inside && w >= 0 && w < g.width ? plane[h * g.width + w] : pad;
      }
    }
  }
}

// A convolution reads its windows in place (gemm_u8s8_max over QuadRows) when each kernel row is
// contiguous in the image: its bytes in quads, the last one padded with weights of zero.
bool windows_in_place(const Conv2dSpec& spec) {
  return spec.dilation_w == 1;
}
Index quads_per_kernel_row(Index kernel_w) {
  return (kernel_w + 3) / 4;
}

// The image a convolution reading in place sees: with its padding written out (the quantized 0).
struct PaddedImage {
  Index height = 0, width = 0;  // with the padding
  Index top = 0, left = 0;      // where the image starts in it
  bool padded() const { return top > 0 || left > 0 || extra > 0; }
  Index extra = 0;
};

PaddedImage padded_image(const ConvGeometry& g) {
  PaddedImage p;
  p.top = g.pad_h;
  p.left = g.pad_w;
  p.extra = g.extra_pad_h + g.extra_pad_w;
  p.height = g.height + 2 * g.pad_h + g.extra_pad_h;
  p.width = g.width + 2 * g.pad_w + g.extra_pad_w;
  return p;
}

// One sample's rows for the strided GEMM (dilated kernel rows), in the order plan_rows gave them.
void im2row_u8(const ConvGeometry& g, const QuantizedModel::RowPlan& plan, const std::uint8_t* image,
               std::uint8_t pad, std::uint8_t* rows, Index lda) {
  for (std::size_t r = 0; r < plan.oh.size(); ++r, rows += lda)
    im2row_u8_position(g, image, pad, plan.oh[r], plan.ow[r], rows);
}

// Whether max pooling can run inside the GEMM (gemm_u8s8_max): windows that tile the image without
// overlapping and without padding, so that every pooled output has its whole window of positions.
bool pool_tiles(const PoolGeometry& g) {
  return g.pad_h == 0 && g.pad_w == 0 && g.stride_h == g.pool_h && g.stride_w == g.pool_w;
}

// One sample's GEMM rows: one per output position in row-major order or, with `windows`, grouped by
// pooling window (the pool_h * pool_w positions of pooled output 0, then those of pooled output 1,
// ...: windows that tile the output without overlap or padding). In place, each row's window
// corner in the padded image and each quad's offset from it; else the positions, for im2row_u8.
void plan_rows(const ConvGeometry& g, const PoolGeometry* windows, bool in_place,
               QuantizedModel::RowPlan& plan) {
  plan.oh.clear();
  plan.ow.clear();
  plan.corners.clear();
  plan.offsets.clear();
  const PaddedImage image = padded_image(g);
  const auto add = [&](Index oh, Index ow) {
    if (in_place) {
      plan.corners.push_back(oh * g.stride_h * image.width + ow * g.stride_w);
    } else {
      plan.oh.push_back(oh);
      plan.ow.push_back(ow);
    }
  };
  if (windows == nullptr) {
    for (Index oh = 0; oh < g.output_h(); ++oh) {
      for (Index ow = 0; ow < g.output_w(); ++ow) add(oh, ow);
    }
  } else {
    for (Index ph = 0; ph < windows->output_h(); ++ph) {
      for (Index pw = 0; pw < windows->output_w(); ++pw) {
        for (Index i = 0; i < windows->pool_h; ++i) {
          for (Index j = 0; j < windows->pool_w; ++j) add(ph * windows->pool_h + i, pw * windows->pool_w + j);
        }
      }
    }
  }
  if (!in_place) return;
  for (Index c = 0; c < g.channels; ++c) {
    for (Index i = 0; i < g.kernel_h; ++i) {
      for (Index part = 0; part < quads_per_kernel_row(g.kernel_w); ++part)
        plan.offsets.push_back((c * image.height + i * g.dilation_h) * image.width + 4 * part);
    }
  }
}

// Weights [F, C * KH * KW] -> [F, C * KH * 4 * quads_per_kernel_row(KW)]: each kernel row padded
// with zeros to whole quads, the layout of the windows read in place.
std::vector<std::int8_t> pad_kernel_rows(const QuantizedWeights& weights, Index kernel_w) {
  const Index kernel_rows = weights.cols / kernel_w;
  const Index padded = 4 * quads_per_kernel_row(kernel_w);
  std::vector<std::int8_t> out(static_cast<std::size_t>(weights.rows * kernel_rows * padded), 0);
  for (Index f = 0; f < weights.rows; ++f) {
    for (Index t = 0; t < kernel_rows; ++t) {
      const std::int8_t* from = weights.values.data() + f * weights.cols + t * kernel_w;
      std::copy(from, from + kernel_w, out.data() + (f * kernel_rows + t) * padded);
    }
  }
  return out;
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
  grow(values, shape.element_count() + kSpareBytes);
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
  const std::int8_t* values = layer.weights.values.data();
  Index cols = layer.weights.cols;
  std::vector<std::int8_t> padded;
  if (linear.type == "conv2d" && windows_in_place(static_cast<const Conv2d&>(*linear.layer).spec())) {
    step.in_place = true;
    const Index kernel_w = layer.weight_shape[3];
    padded = pad_kernel_rows(layer.weights, kernel_w);
    values = padded.data();
    cols = cols / kernel_w * 4 * quads_per_kernel_row(kernel_w);
  }
  step.packed = kernel ? pack_u8s8_weights(values, layer.weights.rows, cols, *kernel)
                       : pack_u8s8_weights(values, layer.weights.rows, cols);
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

void QuantizedModel::prepare_conv(Step& step, const U8Tensor& input) {
  const auto& conv = static_cast<const Conv2d&>(*model_->layer(step.plan.first).layer);
  ConvRun& run = step.conv;
  const ConvGeometry& g = run.geometry = conv.geometry(input.shape);
  const Index batch = input.shape[0];
  const Index positions = g.column_cols();
  run.lda = (g.column_rows() + 3) / 4 * 4;  // the strided GEMM's rows (not in place)
  if (step.pool) {
    run.pool = PoolGeometry{g.output_h(),        g.output_w(),        step.pool->pool_h, step.pool->pool_w,
                            step.pool->stride_h, step.pool->stride_w, step.pool->pad_h,  step.pool->pad_w};
  }
  // With windows that tile the output, the GEMM takes each window's rows together and keeps their
  // maximum; other pools run on the sums afterwards. Either way the sums are pooled before they are
  // requantized (which is increasing in the sum: its scales are > 0), leaving a quarter to requantize.
  run.pool_in_gemm = step.pool && pool_tiles(run.pool);
  run.plane = step.pool ? run.pool.output_size() : positions;
  run.group = run.pool_in_gemm ? run.pool.pool_h * run.pool.pool_w : 1;
  run.rows_per_sample = run.pool_in_gemm ? run.plane * run.group : positions;
  run.sums_per_sample = (run.pool_in_gemm ? run.plane : positions) * step.layer->weights.rows;
  if (step.rows.example != input.shape.without_batch()) {
    plan_rows(g, run.pool_in_gemm ? &run.pool : nullptr, step.in_place, step.rows);
    step.rows.example = input.shape.without_batch();
  }
  // In place, one GEMM per sample over its image; else im2row_u8's rows of a few samples, a few
  // hundred rows per GEMM to amortise the packed weights' reads.
  run.block = step.in_place ? 1
                            : std::clamp<Index>(512 / std::max<Index>(run.rows_per_sample, 1), 1,
                                                std::max<Index>(batch, 1));
  const Shape shape = step.example_shape.with_batch(batch);
  if (step.u8_output) {
    step.u8_out.resize(shape);
  } else {
    step.float_out.resize(shape);
  }
}

void QuantizedModel::conv_samples(Step& step, const U8Tensor& input, Workspace& w, Index begin, Index end) {
  const ConvRun& run = step.conv;
  const ConvGeometry& g = run.geometry;
  const Index filters = step.layer->weights.rows;
  const Index plane = run.plane;
  const auto zero_point = static_cast<std::uint8_t>(step.layer->input.zero_point);
  const float low = step.plan.relu ? static_cast<float>(step.output.zero_point) : 0.0f;
  // One sample's (pooled) sums (plane, filters) -> its output (filters, plane): requantized row by
  // row (vectorised over the filters), then transposed into channel planes, unless the next step
  // takes them as they are (channels_last).
  const auto write = [&](const std::int32_t* sums, Index sample) {
    if (step.pool && !run.pool_in_gemm) {
      grow(w.pooled, plane * filters);
      max_pool_rows(run.pool, sums, filters, w.pooled.data());
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
  const PaddedImage padding = padded_image(g);
  grow(w.products, run.block * run.sums_per_sample);
  for (Index first = begin; first < end; first += run.block) {
    const std::uint8_t* image = input.values.data() + first * g.image_size();
    if (step.in_place) {  // the image's padding written out first, in a copy with spare bytes after it
      if (padding.padded()) {
        grow(w.padded, g.channels * padding.height * padding.width + U8Tensor::kSpareBytes);
        std::fill(w.padded.begin(), w.padded.end(), zero_point);
        for (Index c = 0; c < g.channels; ++c) {
          for (Index h = 0; h < g.height; ++h) {
            const std::uint8_t* from = image + (c * g.height + h) * g.width;
            std::copy(
                from, from + g.width,
                w.padded.data() + (c * padding.height + h + padding.top) * padding.width + padding.left);
          }
        }
        image = w.padded.data();
      }
      gemm_u8s8_max(run.rows_per_sample, run.group,
                    QuadRows{image, step.rows.corners.data(), step.rows.offsets.data()},
                    step.layer->input.zero_point, step.packed, w.products.data(), w.scratch);
      write(w.products.data(), first);
      continue;
    }
    const Index samples = std::min(end, first + run.block) - first;
    const Index m = samples * run.rows_per_sample;
    grow(w.rows, m * run.lda);
    for (Index s = 0; s < samples; ++s) {
      im2row_u8(g, step.rows, image + s * g.image_size(), zero_point,
                w.rows.data() + s * run.rows_per_sample * run.lda, run.lda);
    }
    gemm_u8s8_max(m, run.group, w.rows.data(), run.lda, step.layer->input.zero_point, step.packed,
                  w.products.data(), w.scratch);
    for (Index s = 0; s < samples; ++s) write(w.products.data() + s * run.sums_per_sample, first + s);
  }
}

void QuantizedModel::prepare_dense(Step& step, const U8Tensor& input) {
  const Shape shape = step.example_shape.with_batch(input.shape[0]);
  if (step.u8_output) {
    step.u8_out.resize(shape);
  } else {
    step.float_out.resize(shape);
  }
}

void QuantizedModel::dense_samples(Step& step, const U8Tensor& input, Workspace& w, Index begin, Index end) {
  const Index in = step.layer->weights.cols;
  const Index units = step.layer->weights.rows;
  // Rows of `in` features: one per sample, or several (sequences).
  const Index per_sample = input.shape.element_count() / in / input.shape[0];
  const Index first = begin * per_sample;
  const Index rows = (end - begin) * per_sample;
  const float low = step.plan.relu ? static_cast<float>(step.output.zero_point) : 0.0f;
  grow(w.products, rows * units);
  gemm_u8s8(rows, input.values.data() + first * in, in, step.layer->input.zero_point, step.packed,
            w.products.data(), w.scratch.shifted);
  if (step.u8_output) {
    requantize_rows(w.products.data(), rows, units, step.multiplier.data(), step.offset.data(), low,
                    step.u8_out.values.data() + first * units);
  } else {
    dequantize_rows(w.products.data(), rows, units, step.scale.data(), step.layer->bias.data(),
                    step.plan.relu, step.float_out.data() + first * units);
  }
}

const Tensor& QuantizedModel::forward(const Tensor& input, Index depth) {
  if (depth < 0 || depth > model_->size()) depth = model_->size();
  const Tensor* current = &input;
  const U8Tensor* quantized = nullptr;  // when the current activations are uint8
  const ActivationQuantization* quantization = nullptr;
  const Step* last_channels_last = nullptr;  // the step that wrote `quantized`, if by position
  const ForwardContext context{Mode::eval, nullptr};
  for (std::size_t i = 0; i < steps_.size();) {
    Step& step = steps_[i];
    if (step.plan.first >= depth) break;
    require(step.plan.end <= depth, "QuantizedModel: a forward pass may not stop inside a step");
    if (step.plan.int8) {
      // A run of int8 steps, each writing uint8 for the next: prepared in order, then run one
      // after another on each worker's share of the samples (one parallel loop per batch, not one
      // per step: a step's work per batch is a few microseconds).
      const Tensor* to_quantize = quantized == nullptr ? current : nullptr;
      if (to_quantize != nullptr) {
        step.quantized_input.resize(current->shape());
        quantized = &step.quantized_input;
      }
      const U8Tensor* run_input = quantized;
      std::size_t end = i;
      for (const U8Tensor* x = run_input; end < steps_.size() && steps_[end].plan.int8 &&
                                          steps_[end].plan.first < depth && steps_[end].plan.end <= depth;) {
        Step& s = steps_[end++];
        if (model_->layer(s.plan.first).type == "conv2d") {
          prepare_conv(s, *x);
        } else {
          prepare_dense(s, *x);
        }
        if (!s.u8_output) break;
        x = &s.u8_out;
      }
      const Index batch = run_input->shape[0];
      const Index workers = prepare_workers(batch);
      for_workers(workers, [&](Index worker) {
        Workspace& w = workspaces_[static_cast<std::size_t>(worker)];
        const Index begin = batch * worker / workers;
        const Index stop = batch * (worker + 1) / workers;
        if (begin >= stop) return;
        if (to_quantize != nullptr) {
          const Index per_sample = to_quantize->size() / batch;
          quantize_values(
              to_quantize->values().subspan(static_cast<std::size_t>(begin * per_sample),
                                            static_cast<std::size_t>((stop - begin) * per_sample)),
              step.layer->input, step.quantized_input.values.data() + begin * per_sample);
        }
        const U8Tensor* x = run_input;
        for (std::size_t k = i; k < end; ++k) {
          Step& s = steps_[k];
          if (model_->layer(s.plan.first).type == "conv2d") {
            conv_samples(s, *x, w, begin, stop);
          } else {
            dense_samples(s, *x, w, begin, stop);
          }
          x = &s.u8_out;
        }
      });
      const Step& last = steps_[end - 1];
      if (last.u8_output) {
        quantized = &last.u8_out;
        quantization = &last.output;
        last_channels_last = last.channels_last ? &last : nullptr;
      } else {
        quantized = nullptr;
        current = &last.float_out;
      }
      i = end;
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
    ++i;
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
