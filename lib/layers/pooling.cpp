#include "layers/pooling.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/errors.hpp"
#include "core/threads.hpp"
#include "layers/layer_label.hpp"

namespace dlrun {
namespace {

// Planes per parallel chunk: enough work per chunk to pay for waking a worker.
Index min_planes(Index plane_size) {
  return std::max<Index>(1, 4096 / std::max<Index>(plane_size, 1));
}

void require_image(const Shape& input, std::string_view name, std::string_view kind) {
  if (input.rank() != 4) {
    throw ShapeError(layer_label(name, kind) + ": expects input (N, C, H, W), got " + input.to_string());
  }
}

PoolGeometry pool_geometry(const Shape& input, const Pool2dSpec& spec, std::string_view name,
                           std::string_view kind) {
  require_image(input, name, kind);
  PoolGeometry g;
  g.planes = input[0] * input[1];
  g.height = input[2];
  g.width = input[3];
  // PyTorch, ceil_mode=False: floor((H + 2*pad - pool) / stride) + 1.
  const Index span_h = g.height + 2 * spec.pad_h - spec.pool_h;
  const Index span_w = g.width + 2 * spec.pad_w - spec.pool_w;
  if (span_h < 0 || span_w < 0) {
    throw ShapeError(layer_label(name, kind) + ": pool " + std::to_string(spec.pool_h) + "x" +
                     std::to_string(spec.pool_w) + " is larger than the input " + std::to_string(g.height) +
                     "x" + std::to_string(g.width) + " with padding " + std::to_string(spec.pad_h) + "x" +
                     std::to_string(spec.pad_w));
  }
  g.output_h = span_h / spec.stride_h + 1;
  g.output_w = span_w / spec.stride_w + 1;
  return g;
}

// The input rows (or columns) [begin, end) of window `o`, clipped to the image.
struct Window {
  Index begin;
  Index end;
};
Window window(Index o, Index stride, Index pad, Index pool, Index size) {
  const Index start = o * stride - pad;
  return {std::max<Index>(start, 0), std::min<Index>(start + pool, size)};
}

}  // namespace

Shape MaxPool2d::output_shape(const Shape& input) const {
  const PoolGeometry g = pool_geometry(input, spec_, name_, kKind);
  return Shape{input[0], input[1], g.output_h, g.output_w};
}

void MaxPool2d::forward(const Tensor& input, Tensor& output, const ForwardContext& /*context*/) {
  const PoolGeometry g = pool_geometry(input.shape(), spec_, name_, kKind);
  output.resize({input.shape()[0], input.shape()[1], g.output_h, g.output_w});
  const Index in_plane = g.height * g.width;
  const Index out_plane = g.output_h * g.output_w;
  argmax_.resize(static_cast<std::size_t>(g.planes * out_plane));
  const float* in = input.data();
  float* out = output.data();
  std::int32_t* arg = argmax_.data();
  const Pool2dSpec& s = spec_;
  parallel_for(
      g.planes,
      [&](Index first, Index last) {
        for (Index plane = first; plane < last; ++plane) {
          const float* x = in + plane * in_plane;
          float* y = out + plane * out_plane;
          std::int32_t* a = arg + plane * out_plane;
          for (Index oh = 0; oh < g.output_h; ++oh) {
            const Window rows = window(oh, s.stride_h, s.pad_h, s.pool_h, g.height);
            for (Index ow = 0; ow < g.output_w; ++ow) {
              const Window cols = window(ow, s.stride_w, s.pad_w, s.pool_w, g.width);
              // pad <= pool/2 guarantees a non-empty window.
              Index best_at = rows.begin * g.width + cols.begin;
              float best = x[best_at];
              for (Index h = rows.begin; h < rows.end; ++h) {
                for (Index w = cols.begin; w < cols.end; ++w) {
                  const float v = x[h * g.width + w];
                  if (v > best || std::isnan(v)) {  // PyTorch: the first maximum; NaN propagates
                    best = v;
                    best_at = h * g.width + w;
                  }
                }
              }
              y[oh * g.output_w + ow] = best;
              a[oh * g.output_w + ow] = static_cast<std::int32_t>(best_at);
            }
          }
        }
      },
      min_planes(in_plane));
}

void MaxPool2d::backward(const Tensor& input, const Tensor& /*output*/, const Tensor& grad_output,
                         Tensor& grad_input) {
  const PoolGeometry g = pool_geometry(input.shape(), spec_, name_, kKind);
  const Index in_plane = g.height * g.width;
  const Index out_plane = g.output_h * g.output_w;
  require(grad_output.size() == g.planes * out_plane &&
              argmax_.size() == static_cast<std::size_t>(grad_output.size()),
          "maxpool2d: backward without a matching forward");
  grad_input.resize(input.shape());
  const float* dy = grad_output.data();
  float* dx = grad_input.data();
  const std::int32_t* arg = argmax_.data();
  parallel_for(
      g.planes,
      [&](Index first, Index last) {
        std::fill(dx + first * in_plane, dx + last * in_plane, 0.0f);
        for (Index plane = first; plane < last; ++plane) {
          float* x = dx + plane * in_plane;
          const float* y = dy + plane * out_plane;
          const std::int32_t* a = arg + plane * out_plane;
          for (Index o = 0; o < out_plane; ++o) x[a[o]] += y[o];  // windows may overlap: accumulate
        }
      },
      min_planes(in_plane));
}

Shape AvgPool2d::output_shape(const Shape& input) const {
  const PoolGeometry g = pool_geometry(input, spec_, name_, kKind);
  return Shape{input[0], input[1], g.output_h, g.output_w};
}

void AvgPool2d::forward(const Tensor& input, Tensor& output, const ForwardContext& /*context*/) {
  const PoolGeometry g = pool_geometry(input.shape(), spec_, name_, kKind);
  output.resize({input.shape()[0], input.shape()[1], g.output_h, g.output_w});
  const Index in_plane = g.height * g.width;
  const Index out_plane = g.output_h * g.output_w;
  const float scale = 1.0f / static_cast<float>(spec_.pool_h * spec_.pool_w);
  const float* in = input.data();
  float* out = output.data();
  const Pool2dSpec& s = spec_;
  parallel_for(
      g.planes,
      [&](Index first, Index last) {
        for (Index plane = first; plane < last; ++plane) {
          const float* x = in + plane * in_plane;
          float* y = out + plane * out_plane;
          for (Index oh = 0; oh < g.output_h; ++oh) {
            const Window rows = window(oh, s.stride_h, s.pad_h, s.pool_h, g.height);
            for (Index ow = 0; ow < g.output_w; ++ow) {
              const Window cols = window(ow, s.stride_w, s.pad_w, s.pool_w, g.width);
              float sum = 0.0f;
              for (Index h = rows.begin; h < rows.end; ++h) {
                for (Index w = cols.begin; w < cols.end; ++w) sum += x[h * g.width + w];
              }
              y[oh * g.output_w + ow] = sum * scale;
            }
          }
        }
      },
      min_planes(in_plane));
}

void AvgPool2d::backward(const Tensor& input, const Tensor& /*output*/, const Tensor& grad_output,
                         Tensor& grad_input) {
  const PoolGeometry g = pool_geometry(input.shape(), spec_, name_, kKind);
  const Index in_plane = g.height * g.width;
  const Index out_plane = g.output_h * g.output_w;
  require(grad_output.size() == g.planes * out_plane, "avgpool2d: grad_output does not match the output");
  grad_input.resize(input.shape());
  const float scale = 1.0f / static_cast<float>(spec_.pool_h * spec_.pool_w);
  const float* dy = grad_output.data();
  float* dx = grad_input.data();
  const Pool2dSpec& s = spec_;
  parallel_for(
      g.planes,
      [&](Index first, Index last) {
        std::fill(dx + first * in_plane, dx + last * in_plane, 0.0f);
        for (Index plane = first; plane < last; ++plane) {
          float* x = dx + plane * in_plane;
          const float* y = dy + plane * out_plane;
          for (Index oh = 0; oh < g.output_h; ++oh) {
            const Window rows = window(oh, s.stride_h, s.pad_h, s.pool_h, g.height);
            for (Index ow = 0; ow < g.output_w; ++ow) {
              const Window cols = window(ow, s.stride_w, s.pad_w, s.pool_w, g.width);
              const float share = y[oh * g.output_w + ow] * scale;
              for (Index h = rows.begin; h < rows.end; ++h) {
                for (Index w = cols.begin; w < cols.end; ++w) x[h * g.width + w] += share;
              }
            }
          }
        }
      },
      min_planes(in_plane));
}

Shape GlobalAvgPool2d::output_shape(const Shape& input) const {
  require_image(input, name_, kKind);
  return Shape{input[0], input[1]};
}

void GlobalAvgPool2d::forward(const Tensor& input, Tensor& output, const ForwardContext& /*context*/) {
  output.resize(output_shape(input.shape()));
  const Index plane_size = input.shape()[2] * input.shape()[3];
  const float* in = input.data();
  float* out = output.data();
  parallel_for(
      output.size(),
      [&](Index first, Index last) {
        for (Index plane = first; plane < last; ++plane) {
          const float* x = in + plane * plane_size;
          double sum = 0.0;
          for (Index i = 0; i < plane_size; ++i) sum += x[i];
          out[plane] = static_cast<float>(sum / static_cast<double>(plane_size));
        }
      },
      min_planes(plane_size));
}

void GlobalAvgPool2d::backward(const Tensor& input, const Tensor& /*output*/, const Tensor& grad_output,
                               Tensor& grad_input) {
  const Index plane_size = input.shape()[2] * input.shape()[3];
  require(grad_output.size() * plane_size == input.size(), "global_avg_pool2d: grad_output does not match");
  grad_input.resize(input.shape());
  const float scale = 1.0f / static_cast<float>(plane_size);
  const float* dy = grad_output.data();
  float* dx = grad_input.data();
  parallel_for(
      grad_output.size(),
      [&](Index first, Index last) {
        for (Index plane = first; plane < last; ++plane) {
          std::fill(dx + plane * plane_size, dx + (plane + 1) * plane_size, dy[plane] * scale);
        }
      },
      min_planes(plane_size));
}

namespace {

Pool2dSpec read_pool_spec(Options& options) {
  Pool2dSpec spec;
  const std::vector<Index> pool = options.integers("pool", {2, 2}, 2);
  for (const Index p : pool) options.require_at_least("pool", static_cast<double>(p), 1);
  const std::vector<Index> stride = options.integers("stride", pool, 2);
  for (const Index p : stride) options.require_at_least("stride", static_cast<double>(p), 1);
  const std::vector<Index> pad = options.integers("padding", {0, 0}, 2);
  for (std::size_t axis = 0; axis < 2; ++axis) {
    options.require_at_least("padding", static_cast<double>(pad[axis]), 0);
    if (2 * pad[axis] > pool[axis]) {
      options.fail("padding", "must be at most half the pool size (as in PyTorch), got padding " +
                                  std::to_string(pad[axis]) + " for pool " + std::to_string(pool[axis]));
    }
  }
  spec.pool_h = pool[0];
  spec.pool_w = pool[1];
  spec.stride_h = stride[0];
  spec.stride_w = stride[1];
  spec.pad_h = pad[0];
  spec.pad_w = pad[1];
  return spec;
}

template <class PoolLayer>
std::unique_ptr<Layer> make_pool(Options& options, const LayerBuildContext& context) {
  auto layer = std::make_unique<PoolLayer>(context.name, read_pool_spec(options));
  layer->output_shape(context.input_shape);  // wrong rank or a too-large window fails at build time
  return layer;
}

}  // namespace

std::unique_ptr<Layer> make_maxpool2d(Options& options, const LayerBuildContext& context) {
  return make_pool<MaxPool2d>(options, context);
}

std::unique_ptr<Layer> make_avgpool2d(Options& options, const LayerBuildContext& context) {
  return make_pool<AvgPool2d>(options, context);
}

std::unique_ptr<Layer> make_global_avg_pool2d(Options& /*options*/, const LayerBuildContext& context) {
  auto layer = std::make_unique<GlobalAvgPool2d>(context.name);
  layer->output_shape(context.input_shape);
  return layer;
}

}  // namespace dlrun
