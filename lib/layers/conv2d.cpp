#include "layers/conv2d.hpp"

#include <algorithm>
#include <cmath>

#include "core/blas.hpp"
#include "core/errors.hpp"
#include "core/small_k_gemm.hpp"
#include "core/threads.hpp"
#include "layers/flatten.hpp"
#include "layers/layer_label.hpp"

namespace dlrun {
namespace {

std::span<float> block(std::span<float> values, Index offset, Index count) {
  return values.subspan(static_cast<std::size_t>(offset), static_cast<std::size_t>(count));
}

// Grows a scratch buffer to at least `count` values, keeping its shape otherwise: callers use
// sized sub-spans, so the buffer is not reshaped per sample block.
void reserve(Tensor& buffer, Index count) {
  if (buffer.size() < count) buffer.resize(Shape{count});
}

// The sum of `count` floats, in double over four independent chains: GCC -O2 keeps a single
// floating-point chain in order, which is latency bound (4 cycles per value).
double sum_values(const float* values, Index count) {
  double partial[4] = {0.0, 0.0, 0.0, 0.0};
  Index i = 0;
  for (; i + 4 <= count; i += 4) {
    for (Index k = 0; k < 4; ++k) partial[k] += values[i + k];
  }
  for (; i < count; ++i) partial[0] += values[i];
  return (partial[0] + partial[1]) + (partial[2] + partial[3]);
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
  if (input.rank() != 4) {
    throw ShapeError(layer_label(name_, kKind) + ": expects input (N, C, H, W), got " + input.to_string());
  }
  if (input[1] != in_channels_) {
    throw ShapeError(layer_label(name_, kKind) + ": expects " + std::to_string(in_channels_) +
                     " input channels, got " + std::to_string(input[1]) + " (input " + input.to_string() +
                     ")");
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
    throw ShapeError(layer_label(name_, kKind) + ": kernel " + std::to_string(g.kernel_h) + "x" +
                     std::to_string(g.kernel_w) + " (dilation " + std::to_string(g.dilation_h) + "x" +
                     std::to_string(g.dilation_w) + ") is larger than the input " + std::to_string(g.height) +
                     "x" + std::to_string(g.width) + " with padding " + std::to_string(g.pad_h) + "x" +
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

// Threading: each worker takes a contiguous range of samples and runs im2col and single-threaded
// GEMMs on them, a sample (or a small block of samples) at a time, so the column matrix stays in
// cache and the GEMM writes straight into the output. Measured on the 2-core development machine
// (seed CNN first layer, batch 64, 2 threads), this took 0.42 ms forward and 0.80 ms backward,
// against 1.27 and 2.08 ms for one GEMM over the whole batch's columns threaded by OpenBLAS: small-K
// GEMMs (K = C*KH*KW = 9) scale poorly inside OpenBLAS, and the batched layout needs extra passes
// to reorder (F, N*OH*OW) into NCHW. OpenBLAS is single-threaded (core/threads.cpp): concurrent
// multi-threaded calls of Debian's pthread build serialize and oversubscribe the cores (a 64->64
// 3x3 layer on 16x16 took 160-230 ms backward instead of 51 ms). GEMMs called from a worker run on
// that worker (parallel_for does not nest).
Index Conv2d::prepare_workers(Index batch) {
  const Index workers = std::clamp<Index>(thread_count(), 1, std::max<Index>(batch, 1));
  if (static_cast<Index>(workspaces_.size()) < workers) workspaces_.resize(static_cast<std::size_t>(workers));
  return workers;
}

template <class Body>
void Conv2d::for_sample_blocks(Index batch, Index block, const Body& body) {
  const Index workers = prepare_workers(batch);
  auto run = [&](Index worker) {
    const Index begin = batch * worker / workers;
    const Index end = batch * (worker + 1) / workers;
    for (Index first = begin; first < end; first += block) {
      body(workspaces_[static_cast<std::size_t>(worker)], first, std::min(end, first + block));
    }
  };
  if (workers == 1) {
    run(0);
    return;
  }
  parallel_for(workers, [&](Index first, Index last) {
    for (Index worker = first; worker < last; ++worker) run(worker);
  });
}

Index Conv2d::block_size(const ConvGeometry& geometry, Index batch) const {
  // At least ~kMinPositions GEMM columns per call (late layers have few output positions), and a
  // block's columns within kBlockBudget floats.
  constexpr Index kMinPositions = 512;
  constexpr Index kBlockBudget = Index{1} << 20;
  const Index positions = std::max<Index>(geometry.column_cols(), 1);
  const Index wanted = (kMinPositions + positions - 1) / positions;
  const Index affordable = kBlockBudget / std::max<Index>(geometry.column_rows() * positions, 1);
  return std::clamp<Index>(std::min(wanted, affordable), 1, std::max<Index>(batch, 1));
}

// workspace.columns (C*KH*KW, S*OH*OW) <- im2col of samples [begin, end), side by side.
void Conv2d::fill_columns(const ConvGeometry& g, Workspace& workspace, const Tensor& input, Index begin,
                          Index end) {
  const Index positions = g.column_cols();
  const Index width = (end - begin) * positions;
  reserve(workspace.columns, g.column_rows() * width);
  for (Index s = 0; s < end - begin; ++s) {
    im2col(g, sample(input, begin + s),
           workspace.columns.values().subspan(static_cast<std::size_t>(s * positions)), width);
  }
}

// For a block of S samples: columns (CKK, S*P) <- im2col; per group (F/G, CKK/G) x (CKK/G, S*P).
// With S = 1 the product is the sample's (F, P) output itself; otherwise it goes through
// `products` and is copied out per sample.
void Conv2d::forward_block(const ConvGeometry& g, Workspace& workspace, const Tensor& input, Index begin,
                           Index end, float* destination) {
  const Index samples = end - begin;
  const Index positions = g.column_cols();
  const Index width = samples * positions;
  const Index filters = spec_.filters;
  const Index group_filters = filters / spec_.groups;
  const Index group_rows = g.column_rows() / spec_.groups;
  fill_columns(g, workspace, input, begin, end);
  std::span<float> product(destination, static_cast<std::size_t>(filters * width));
  if (samples > 1) {
    reserve(workspace.products, filters * width);
    product = workspace.products.values();
  }
  const bool small_k = use_small_k_gemm(group_filters, group_rows);
  if (small_k) {  // bias and relu applied in registers
    for (Index group = 0; group < spec_.groups; ++group) {
      gemm_small_k(group_filters, width, group_rows,
                   weight().value.data() + group * group_filters * group_rows,
                   workspace.columns.data() + group * group_rows * width, width,
                   spec_.bias ? bias().value.data() + group * group_filters : nullptr, fused_relu_,
                   product.data() + group * group_filters * width, width);
    }
  } else {
    // With a bias, each output row starts as its bias and the GEMMs add to it (beta = 1): one write
    // pass, where beta = 0 would cost OpenBLAS's zeroing pass plus a bias pass.
    float beta = 0.0f;
    if (spec_.bias) {
      for (Index f = 0; f < filters; ++f) std::fill_n(product.data() + f * width, width, bias().value[f]);
      beta = 1.0f;
    }
    for (Index group = 0; group < spec_.groups; ++group) {
      gemm(Transpose::no, Transpose::no, group_filters, width, group_rows, 1.0f,
           block(weight().value.values(), group * group_filters * group_rows, group_filters * group_rows),
           block(workspace.columns.values(), group * group_rows * width, group_rows * width), beta,
           block(product, group * group_filters * width, group_filters * width));
    }
  }
  if (samples > 1) {
    for (Index s = 0; s < samples; ++s) {
      for (Index f = 0; f < filters; ++f) {
        std::copy_n(product.data() + f * width + s * positions, positions,
                    destination + (s * filters + f) * positions);
      }
    }
  }
  if (fused_relu_ && !small_k) {  // the block is still in cache
    for (Index i = 0; i < samples * filters * positions; ++i) destination[i] = std::max(destination[i], 0.0f);
  }
}

bool Conv2d::fuse_activation(std::string_view function) {
  fused_relu_ = function == "relu";
  return fused_relu_;
}

bool Conv2d::fuse_next(const Layer& next) {
  if (fused_flatten_) return false;
  if (next.kind() == Flatten::kKind) {
    fused_flatten_ = true;
    return true;
  }
  if (next.kind() != MaxPool2d::kKind || fused_pool_) return false;
  fused_pool_ = static_cast<const MaxPool2d&>(next).spec();
  return true;
}

void Conv2d::resize_output(Tensor& output, Index batch, Index height, Index width) const {
  if (fused_flatten_) {
    output.resize({batch, spec_.filters * height * width});
  } else {
    output.resize({batch, spec_.filters, height, width});
  }
}

PoolGeometry Conv2d::pool_geometry(const ConvGeometry& g) const {
  const Pool2dSpec& pool = *fused_pool_;
  return PoolGeometry{g.output_h(),  g.output_w(),  pool.pool_h, pool.pool_w,
                      pool.stride_h, pool.stride_w, pool.pad_h,  pool.pad_w};
}

void Conv2d::forward(const Tensor& input, Tensor& output, const ForwardContext& /*context*/) {
  const ConvGeometry g = geometry_for(input.shape());
  const Index batch = input.shape()[0];
  const Index block = block_size(g, batch);
  if (!fused_pool_) {
    resize_output(output, batch, g.output_h(), g.output_w());
    for_sample_blocks(batch, block, [&](Workspace& workspace, Index begin, Index end) {
      forward_block(g, workspace, input, begin, end, sample(output, begin).data());
    });
    return;
  }
  const PoolGeometry pool = pool_geometry(g);
  resize_output(output, batch, pool.output_h(), pool.output_w());
  pool_argmax_.resize(static_cast<std::size_t>(output.size()));
  const Index planes_per_block = block * spec_.filters;
  for_sample_blocks(batch, block, [&](Workspace& workspace, Index begin, Index end) {
    reserve(workspace.unpooled, planes_per_block * pool.input_size());
    forward_block(g, workspace, input, begin, end, workspace.unpooled.data());
    const Index first_plane = begin * spec_.filters;
    for (Index p = 0; p < (end - begin) * spec_.filters; ++p) {
      const Index at = (first_plane + p) * pool.output_size();
      max_pool2d_plane(
          pool,
          workspace.unpooled.values().subspan(static_cast<std::size_t>(p * pool.input_size()),
                                              static_cast<std::size_t>(pool.input_size())),
          output.values().subspan(static_cast<std::size_t>(at), static_cast<std::size_t>(pool.output_size())),
          std::span(pool_argmax_)
              .subspan(static_cast<std::size_t>(at), static_cast<std::size_t>(pool.output_size())));
    }
  });
}

void Conv2d::gather_gradient(const ConvGeometry& g, Workspace& workspace, const Tensor& output,
                             const Tensor& grad_output, Index begin, Index end) {
  const Index samples = end - begin;
  const Index positions = g.column_cols();
  const Index width = samples * positions;
  const Index filters = spec_.filters;
  reserve(workspace.products, filters * width);
  if (fused_pool_) {
    // As MaxPool2d::backward then the relu's: each window's gradient goes to its argmax, where the
    // relu passes it when the output there, the window's maximum, is > 0.
    const PoolGeometry pool = pool_geometry(g);
    const Index pooled = pool.output_size();
    reserve(workspace.pooled_gradient, pooled);
    for (Index s = 0; s < samples; ++s) {
      for (Index f = 0; f < filters; ++f) {
        const auto from = static_cast<std::size_t>(((begin + s) * filters + f) * pooled);
        std::span<const float> plane_gradient =
            grad_output.values().subspan(from, static_cast<std::size_t>(pooled));
        if (fused_relu_) {
          const float* g_out = plane_gradient.data();
          const float* y = output.data() + from;
          float* masked = workspace.pooled_gradient.data();
          for (Index o = 0; o < pooled; ++o) {
            const float g_o = g_out[o];  // loaded unconditionally, so the select vectorises
            masked[o] = y[o] > 0.0f ? g_o : 0.0f;
          }
          plane_gradient = workspace.pooled_gradient.values().subspan(0, static_cast<std::size_t>(pooled));
        }
        max_pool2d_plane_backward(
            pool, plane_gradient, std::span(pool_argmax_).subspan(from, static_cast<std::size_t>(pooled)),
            workspace.products.values().subspan(static_cast<std::size_t>(f * width + s * positions),
                                                static_cast<std::size_t>(positions)));
      }
    }
    return;
  }
  // (N, F, OH, OW) -> (F, S*OH*OW); a fused relu passes the gradient only where the output is > 0.
  for (Index s = 0; s < samples; ++s) {
    for (Index f = 0; f < filters; ++f) {
      const Index from = ((begin + s) * filters + f) * positions;
      float* to = workspace.products.data() + f * width + s * positions;
      if (fused_relu_) {
        const float* g_out = grad_output.data() + from;
        const float* y = output.data() + from;
        for (Index p = 0; p < positions; ++p) {
          const float g = g_out[p];  // loaded unconditionally, so the select vectorises
          to[p] = y[p] > 0.0f ? g : 0.0f;
        }
      } else {
        std::copy_n(grad_output.data() + from, positions, to);
      }
    }
  }
}

// For a block: columns <- im2col (recomputed rather than kept from forward: cheap, and cache-
// resident); G (F, S*P) = grad_output of the block; grad_bias += row sums of G;
// grad_weight_g += G_g x columns_g^T (into this worker's share); columns_g <- W_g^T x G_g
// (grad_columns, overwriting the columns once grad_weight has used them); grad_input <- col2im.
void Conv2d::backward_block(const ConvGeometry& g, Workspace& workspace, const Tensor& input,
                            const Tensor& output, const Tensor& grad_output, Index begin, Index end,
                            Tensor& grad_input) {
  const Index samples = end - begin;
  const Index positions = g.column_cols();
  const Index width = samples * positions;
  const Index filters = spec_.filters;
  const Index group_filters = filters / spec_.groups;
  const Index group_rows = g.column_rows() / spec_.groups;
  fill_columns(g, workspace, input, begin, end);
  const std::span<float> columns = workspace.columns.values();
  std::span<const float> gradient =
      sample(grad_output, begin).subspan(0, static_cast<std::size_t>(filters * width));
  if (samples > 1 || fused_relu_ || fused_pool_) {
    gather_gradient(g, workspace, output, grad_output, begin, end);
    gradient = workspace.products.values();
  }
  if (spec_.bias) {
    for (Index f = 0; f < filters; ++f)
      workspace.grad_bias[f] += sum_values(gradient.data() + f * width, width);
  }
  const std::span<float> grad_weight = workspace.grad_weight.values();
  for (Index group = 0; group < spec_.groups; ++group) {
    const auto group_gradient = gradient.subspan(static_cast<std::size_t>(group * group_filters * width),
                                                 static_cast<std::size_t>(group_filters * width));
    if (use_small_k_gemm(group_filters, group_rows)) {
      gemm_small_k_weight_grad(group_filters, group_rows, width, group_gradient.data(), width,
                               columns.data() + group * group_rows * width, width,
                               grad_weight.data() + group * group_filters * group_rows);
    } else {
      gemm(Transpose::no, Transpose::yes, group_filters, group_rows, width, 1.0f, group_gradient,
           block(columns, group * group_rows * width, group_rows * width), 1.0f,
           block(grad_weight, group * group_filters * group_rows, group_filters * group_rows));
    }
    if (!input_grad_needed()) continue;
    gemm(Transpose::yes, Transpose::no, group_rows, width, group_filters, 1.0f,
         block(weight().value.values(), group * group_filters * group_rows, group_filters * group_rows),
         group_gradient, 0.0f, block(columns, group * group_rows * width, group_rows * width));
  }
  if (!input_grad_needed()) return;
  for (Index s = 0; s < samples; ++s) {
    const std::span<float> image = sample(grad_input, begin + s);
    std::fill(image.begin(), image.end(), 0.0f);
    col2im_add(g, columns.subspan(static_cast<std::size_t>(s * positions)), image, width);
  }
}

void Conv2d::backward(const Tensor& input, const Tensor& output, const Tensor& grad_output,
                      Tensor& grad_input) {
  const ConvGeometry g = geometry_for(input.shape());
  const Index batch = input.shape()[0];
  const Index output_positions = fused_pool_ ? pool_geometry(g).output_size() : g.column_cols();
  if (grad_output.size() != batch * spec_.filters * output_positions || grad_output.size() != output.size()) {
    throw ShapeError(layer_label(name_, kKind) + ": grad_output " + grad_output.shape().to_string() +
                     " does not match the output " + output.shape().to_string());
  }
  grad_input.resize(input.shape());
  prepare_workers(batch);
  for (Workspace& workspace : workspaces_) {
    reserve(workspace.grad_weight, weight().grad.size());
    workspace.grad_weight.zero();
    workspace.grad_bias.assign(static_cast<std::size_t>(spec_.filters), 0.0);
  }
  for_sample_blocks(batch, block_size(g, batch), [&](Workspace& workspace, Index begin, Index end) {
    backward_block(g, workspace, input, output, grad_output, begin, end, grad_input);
  });
  // Reduce the workers' shares (workspaces of workers that got no samples hold zeros).
  float* grad_weight = weight().grad.data();
  for (const Workspace& workspace : workspaces_) {
    for (Index i = 0; i < weight().grad.size(); ++i) grad_weight[i] += workspace.grad_weight[i];
    if (spec_.bias) {
      for (Index f = 0; f < spec_.filters; ++f) bias().grad[f] += static_cast<float>(workspace.grad_bias[f]);
    }
  }
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
