#include "layers/conv2d.hpp"

#include <algorithm>
#include <cmath>

#include "core/blas.hpp"
#include "core/errors.hpp"
#include "core/threads.hpp"
#include "layers/layer_label.hpp"

namespace dlrun {
namespace {

// Upper bound on the column matrix, in floats (16 MiB). The seed CNN's whole batch (64 x 1x28x28,
// 3x3) needs 0.39M and LeNet-5's 1.25M, so they run as one chunk; a wide layer on a big batch is
// split into chunks of samples instead of allocating hundreds of MB.
constexpr Index kColumnBudget = Index{1} << 22;

std::span<float> block(std::span<float> values, Index offset, Index count) {
  return values.subspan(static_cast<std::size_t>(offset), static_cast<std::size_t>(count));
}

}  // namespace

Conv2d::Conv2d(std::string name, const Conv2dSpec& spec, Index in_channels, Rng& rng)
    : name_(std::move(name)), spec_(spec), in_channels_(in_channels) {
  require(spec.filters >= 1 && spec.groups >= 1 && in_channels % spec.groups == 0 &&
              spec.filters % spec.groups == 0,
          "conv2d: invalid spec (filters/groups/channels)");
  require(!spec.same_padding || (spec.stride_h == 1 && spec.stride_w == 1), "conv2d: 'same' needs stride 1");
  if (spec_.same_padding) {
    // PyTorch (ATen convolution_same): total = dilation*(kernel-1), before = total/2, after = rest.
    const Index total_h = spec_.dilation_h * (spec_.kernel_h - 1);
    const Index total_w = spec_.dilation_w * (spec_.kernel_w - 1);
    spec_.pad_h = total_h / 2;
    spec_.pad_w = total_w / 2;
    extra_pad_h_ = total_h - 2 * spec_.pad_h;
    extra_pad_w_ = total_w - 2 * spec_.pad_w;
  }
  const Index fan_in = in_channels / spec_.groups * spec_.kernel_h * spec_.kernel_w;
  const auto bound = static_cast<float>(1.0 / std::sqrt(static_cast<double>(fan_in)));
  const Shape weight_shape{spec_.filters, in_channels / spec_.groups, spec_.kernel_h, spec_.kernel_w};
  parameters_.push_back({"weight", Tensor(weight_shape), Tensor(weight_shape)});
  rng.fill_uniform(weight().value.values(), -bound, bound);
  if (spec_.bias) {
    const Shape bias_shape{spec_.filters};
    parameters_.push_back({"bias", Tensor(bias_shape), Tensor(bias_shape), true, false});
    rng.fill_uniform(bias().value.values(), -bound, bound);
  }
}

ConvGeometry Conv2d::geometry_for(const Shape& input) const {
  const std::string who = layer_label(name_, kKind);
  if (input.rank() != 4) {
    throw ShapeError(who + ": expects input (N, C, H, W), got " + input.to_string());
  }
  if (input[1] != in_channels_) {
    throw ShapeError(who + ": expects " + std::to_string(in_channels_) + " input channels, got " +
                     std::to_string(input[1]) + " (input " + input.to_string() + ")");
  }
  ConvGeometry g;
  g.channels = in_channels_;
  g.height = input[2];
  g.width = input[3];
  g.kernel_h = spec_.kernel_h;
  g.kernel_w = spec_.kernel_w;
  g.stride_h = spec_.stride_h;
  g.stride_w = spec_.stride_w;
  g.pad_h = spec_.pad_h;
  g.pad_w = spec_.pad_w;
  g.dilation_h = spec_.dilation_h;
  g.dilation_w = spec_.dilation_w;
  g.extra_pad_h = extra_pad_h_;
  g.extra_pad_w = extra_pad_w_;
  if (g.output_h() < 1 || g.output_w() < 1) {
    throw ShapeError(who + ": kernel " + std::to_string(g.kernel_h) + "x" + std::to_string(g.kernel_w) +
                     " (dilation " + std::to_string(g.dilation_h) + "x" + std::to_string(g.dilation_w) +
                     ") is larger than the input " + std::to_string(g.height) + "x" +
                     std::to_string(g.width) + " with padding " + std::to_string(g.pad_h) + "x" +
                     std::to_string(g.pad_w));
  }
  return g;
}

Shape Conv2d::output_shape(const Shape& input) const {
  const ConvGeometry g = geometry_for(input);
  return Shape{input[0], spec_.filters, g.output_h(), g.output_w()};
}

double Conv2d::flops_per_example(const Shape& input) const {
  const ConvGeometry g = geometry_for(input);
  return 2.0 * static_cast<double>(spec_.filters * (g.column_rows() / spec_.groups) * g.column_cols());
}

Index Conv2d::chunk_size(const ConvGeometry& geometry, Index batch) const {
  const Index per_sample = std::max<Index>(geometry.column_rows() * geometry.column_cols(), 1);
  return std::clamp<Index>(kColumnBudget / per_sample, 1, std::max<Index>(batch, 1));
}

void Conv2d::fill_columns(const ConvGeometry& geometry, const Tensor& input, Index begin, Index end) {
  const Index positions = geometry.column_cols();
  const Index width = (end - begin) * positions;
  columns_.resize({geometry.column_rows(), width});
  const std::span<float> columns = columns_.values();
  parallel_for(end - begin, [&](Index first, Index last) {
    for (Index s = first; s < last; ++s) {
      im2col(geometry, sample(input, begin + s), columns.subspan(static_cast<std::size_t>(s * positions)),
             width);
    }
  });
}

// Per chunk of samples: columns (CKK, n*P) <- im2col; per group, (F/G, CKK/G) x (CKK/G, n*P) ->
// output_columns (F, n*P) with one GEMM; then each sample's (F, P) block is copied out with the bias.
//
// Threading: one large GEMM per group, threaded by OpenBLAS (set_thread_count sets its threads),
// and our own pool for im2col/scatter over samples. This measured faster than splitting the batch
// across pool workers with one single-threaded GEMM per sample (see the branch report for numbers).
void Conv2d::forward(const Tensor& input, Tensor& output, const ForwardContext& /*context*/) {
  const ConvGeometry g = geometry_for(input.shape());
  const Index batch = input.shape()[0];
  const Index positions = g.column_cols();
  const Index filters = spec_.filters;
  const Index group_filters = filters / spec_.groups;
  const Index group_rows = g.column_rows() / spec_.groups;
  output.resize({batch, filters, g.output_h(), g.output_w()});
  const Index chunk = chunk_size(g, batch);
  const float* bias_values = spec_.bias ? bias().value.data() : nullptr;

  for (Index begin = 0; begin < batch; begin += chunk) {
    const Index end = std::min(batch, begin + chunk);
    const Index width = (end - begin) * positions;
    fill_columns(g, input, begin, end);
    output_columns_.resize({filters, width});
    for (Index group = 0; group < spec_.groups; ++group) {
      gemm(Transpose::no, Transpose::no, group_filters, width, group_rows, 1.0f,
           block(weight().value.values(), group * group_filters * group_rows, group_filters * group_rows),
           block(columns_.values(), group * group_rows * width, group_rows * width), 0.0f,
           block(output_columns_.values(), group * group_filters * width, group_filters * width));
    }
    const float* source = output_columns_.data();
    float* target = output.data();
    parallel_for(end - begin, [&](Index first, Index last) {
      for (Index s = first; s < last; ++s) {
        for (Index f = 0; f < filters; ++f) {
          const float* from = source + f * width + s * positions;
          float* to = target + ((begin + s) * filters + f) * positions;
          const float shift = bias_values ? bias_values[f] : 0.0f;
          for (Index p = 0; p < positions; ++p) to[p] = from[p] + shift;
        }
      }
    });
  }
  columns_hold_batch_ = chunk >= batch;
}

// Per chunk: output_columns (F, n*P) <- grad_output; grad_bias += row sums;
// grad_weight_g += G_g (F/G, n*P) x columns_g^T; then columns_g <- W_g^T x G_g (grad_columns, which
// overwrites the columns once grad_weight has used them) and grad_input <- col2im per sample.
void Conv2d::backward(const Tensor& input, const Tensor& /*output*/, const Tensor& grad_output,
                      Tensor& grad_input) {
  const ConvGeometry g = geometry_for(input.shape());
  const Index batch = input.shape()[0];
  const Index positions = g.column_cols();
  const Index filters = spec_.filters;
  const Index group_filters = filters / spec_.groups;
  const Index group_rows = g.column_rows() / spec_.groups;
  if (grad_output.size() != batch * filters * positions) {
    throw ShapeError(layer_label(name_, kKind) + ": grad_output " + grad_output.shape().to_string() +
                     " does not match the output " + output_shape(input.shape()).to_string());
  }
  grad_input.resize(input.shape());
  const Index chunk = chunk_size(g, batch);
  float* grad_bias = spec_.bias ? bias().grad.data() : nullptr;

  for (Index begin = 0; begin < batch; begin += chunk) {
    const Index end = std::min(batch, begin + chunk);
    const Index width = (end - begin) * positions;
    if (!(columns_hold_batch_ && chunk >= batch)) fill_columns(g, input, begin, end);
    output_columns_.resize({filters, width});
    const float* from = grad_output.data();
    float* gathered = output_columns_.data();
    parallel_for(end - begin, [&](Index first, Index last) {
      for (Index s = first; s < last; ++s) {
        for (Index f = 0; f < filters; ++f) {
          std::copy_n(from + ((begin + s) * filters + f) * positions, positions,
                      gathered + f * width + s * positions);
        }
      }
    });
    if (grad_bias != nullptr) {
      parallel_for(filters, [&](Index first, Index last) {
        for (Index f = first; f < last; ++f) {
          const float* row = gathered + f * width;
          double sum = 0.0;
          for (Index i = 0; i < width; ++i) sum += row[i];
          grad_bias[f] += static_cast<float>(sum);
        }
      });
    }
    for (Index group = 0; group < spec_.groups; ++group) {
      gemm(Transpose::no, Transpose::yes, group_filters, group_rows, width, 1.0f,
           block(output_columns_.values(), group * group_filters * width, group_filters * width),
           block(columns_.values(), group * group_rows * width, group_rows * width), 1.0f,
           block(weight().grad.values(), group * group_filters * group_rows, group_filters * group_rows));
    }
    for (Index group = 0; group < spec_.groups; ++group) {
      gemm(Transpose::yes, Transpose::no, group_rows, width, group_filters, 1.0f,
           block(weight().value.values(), group * group_filters * group_rows, group_filters * group_rows),
           block(output_columns_.values(), group * group_filters * width, group_filters * width), 0.0f,
           block(columns_.values(), group * group_rows * width, group_rows * width));
    }
    const std::span<const float> grad_columns = columns_.values();
    parallel_for(end - begin, [&](Index first, Index last) {
      for (Index s = first; s < last; ++s) {
        const std::span<float> image = sample(grad_input, begin + s);
        std::fill(image.begin(), image.end(), 0.0f);
        col2im_add(g, grad_columns.subspan(static_cast<std::size_t>(s * positions)), image, width);
      }
    });
  }
  columns_hold_batch_ = false;
}

namespace {

// An int or a pair of ints, each >= minimum.
std::vector<Index> read_pair(Options& options, std::string_view key, Index fallback, Index minimum) {
  std::vector<Index> values = options.integers(key, {fallback, fallback}, 2);
  for (const Index value : values)
    options.require_at_least(key, static_cast<double>(value), static_cast<double>(minimum));
  return values;
}

bool is_integer_text(const std::string& text) {
  std::size_t i = (!text.empty() && (text[0] == '-' || text[0] == '+')) ? 1 : 0;
  if (i >= text.size()) return false;
  for (; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
  }
  return true;
}

// padding: valid | same | int | [ph, pw].
void read_padding(Options& options, Conv2dSpec& spec) {
  const Node* node = options.raw("padding");
  if (node == nullptr) return;
  if (node->is_scalar() && (node->quoted() || !is_integer_text(node->text()))) {
    const std::vector<std::string> allowed{"valid", "same"};
    if (node->text() == "same") {
      spec.same_padding = true;
    } else if (node->text() != "valid") {
      options.fail("padding", "unknown value '" + node->text() + "'" + did_you_mean(node->text(), allowed) +
                                  "; allowed: valid, same, an integer or [ph, pw]");
    }
    return;
  }
  const std::vector<Index> pad = read_pair(options, "padding", 0, 0);
  spec.pad_h = pad[0];
  spec.pad_w = pad[1];
}

}  // namespace

std::unique_ptr<Layer> make_conv2d(Options& options, const LayerBuildContext& context) {
  Conv2dSpec spec;
  spec.filters = options.required_integer("filters");
  options.require_at_least("filters", static_cast<double>(spec.filters), 1);
  if (!options.has("kernel")) options.fail("kernel", "is required");
  const std::vector<Index> kernel = read_pair(options, "kernel", 1, 1);
  spec.kernel_h = kernel[0];
  spec.kernel_w = kernel[1];
  const std::vector<Index> stride = read_pair(options, "stride", 1, 1);
  spec.stride_h = stride[0];
  spec.stride_w = stride[1];
  read_padding(options, spec);
  const std::vector<Index> dilation = read_pair(options, "dilation", 1, 1);
  spec.dilation_h = dilation[0];
  spec.dilation_w = dilation[1];
  spec.groups = options.integer("groups", 1);
  options.require_at_least("groups", static_cast<double>(spec.groups), 1);
  spec.bias = options.boolean("bias", true);

  if (spec.same_padding && (spec.stride_h != 1 || spec.stride_w != 1)) {
    options.fail("padding", "'same' needs stride 1 (as in PyTorch); use an explicit padding with stride " +
                                std::to_string(spec.stride_h) + "x" + std::to_string(spec.stride_w));
  }
  const Shape& input = context.input_shape;
  if (input.rank() != 4) {
    throw ShapeError(layer_label(context.name, Conv2d::kKind) + ": expects input (N, C, H, W), got " +
                     input.to_string());
  }
  const Index in_channels = input[1];
  if (in_channels % spec.groups != 0 || spec.filters % spec.groups != 0) {
    options.fail("groups", "must divide both the input channels (" + std::to_string(in_channels) +
                               ") and filters (" + std::to_string(spec.filters) + "), got " +
                               std::to_string(spec.groups));
  }
  require(context.rng != nullptr, "conv2d: LayerBuildContext has no rng");
  auto layer = std::make_unique<Conv2d>(context.name, spec, in_channels, *context.rng);
  layer->output_shape(input);  // a kernel larger than the input is a ShapeError now, not at the first batch
  return layer;
}

}  // namespace dlrun
