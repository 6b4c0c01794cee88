#include "layers/pooling.hpp"

#include <algorithm>

#include "core/errors.hpp"
#include "core/pool2d.hpp"
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

// The plane geometry of an (N, C, H, W) input; ShapeError naming the layer when it does not fit.
PoolGeometry pool_geometry(const Shape& input, const Pool2dSpec& spec, std::string_view name,
                           std::string_view kind) {
  require_image(input, name, kind);
  const PoolGeometry g{input[2],      input[3],      spec.pool_h, spec.pool_w,
                       spec.stride_h, spec.stride_w, spec.pad_h,  spec.pad_w};
  if (g.output_h() < 1 || g.output_w() < 1) {
    throw ShapeError(layer_label(name, kind) + ": pool " + std::to_string(spec.pool_h) + "x" +
                     std::to_string(spec.pool_w) + " is larger than the input " + std::to_string(g.height) +
                     "x" + std::to_string(g.width) + " with padding " + std::to_string(spec.pad_h) + "x" +
                     std::to_string(spec.pad_w));
  }
  return g;
}

std::span<const float> plane(const Tensor& t, Index index, Index size) {
  return t.values().subspan(static_cast<std::size_t>(index * size), static_cast<std::size_t>(size));
}
std::span<float> plane(Tensor& t, Index index, Index size) {
  return t.values().subspan(static_cast<std::size_t>(index * size), static_cast<std::size_t>(size));
}

}  // namespace

Shape MaxPool2d::output_shape(const Shape& input) const {
  const PoolGeometry g = pool_geometry(input, spec_, name_, kKind);
  return Shape{input[0], input[1], g.output_h(), g.output_w()};
}

void MaxPool2d::forward(const Tensor& input, Tensor& output, const ForwardContext& /*context*/) {
  const PoolGeometry g = pool_geometry(input.shape(), spec_, name_, kKind);
  output.resize({input.shape()[0], input.shape()[1], g.output_h(), g.output_w()});
  const Index planes = input.shape()[0] * input.shape()[1];
  const Index out_size = g.output_size();
  argmax_.resize(static_cast<std::size_t>(planes * out_size));
  const std::span<std::int32_t> argmax = argmax_;
  parallel_for(
      planes,
      [&](Index first, Index last) {
        for (Index p = first; p < last; ++p) {
          max_pool2d_plane(
              g, plane(input, p, g.input_size()), plane(output, p, out_size),
              argmax.subspan(static_cast<std::size_t>(p * out_size), static_cast<std::size_t>(out_size)));
        }
      },
      min_planes(g.input_size()));
}

void MaxPool2d::backward(const Tensor& input, const Tensor& /*output*/, const Tensor& grad_output,
                         Tensor& grad_input) {
  const PoolGeometry g = pool_geometry(input.shape(), spec_, name_, kKind);
  const Index planes = input.shape()[0] * input.shape()[1];
  const Index out_size = g.output_size();
  require(grad_output.size() == planes * out_size && static_cast<Index>(argmax_.size()) == grad_output.size(),
          "maxpool2d: backward without a matching forward");
  grad_input.resize(input.shape());
  const std::span<const std::int32_t> argmax = argmax_;
  parallel_for(
      planes,
      [&](Index first, Index last) {
        for (Index p = first; p < last; ++p) {
          max_pool2d_plane_backward(
              g, plane(grad_output, p, out_size),
              argmax.subspan(static_cast<std::size_t>(p * out_size), static_cast<std::size_t>(out_size)),
              plane(grad_input, p, g.input_size()));
        }
      },
      min_planes(g.input_size()));
}

Shape AvgPool2d::output_shape(const Shape& input) const {
  const PoolGeometry g = pool_geometry(input, spec_, name_, kKind);
  return Shape{input[0], input[1], g.output_h(), g.output_w()};
}

void AvgPool2d::forward(const Tensor& input, Tensor& output, const ForwardContext& /*context*/) {
  const PoolGeometry g = pool_geometry(input.shape(), spec_, name_, kKind);
  output.resize({input.shape()[0], input.shape()[1], g.output_h(), g.output_w()});
  parallel_for(
      input.shape()[0] * input.shape()[1],
      [&](Index first, Index last) {
        for (Index p = first; p < last; ++p) {
          avg_pool2d_plane(g, plane(input, p, g.input_size()), plane(output, p, g.output_size()));
        }
      },
      min_planes(g.input_size()));
}

void AvgPool2d::backward(const Tensor& input, const Tensor& /*output*/, const Tensor& grad_output,
                         Tensor& grad_input) {
  const PoolGeometry g = pool_geometry(input.shape(), spec_, name_, kKind);
  const Index planes = input.shape()[0] * input.shape()[1];
  require(grad_output.size() == planes * g.output_size(), "avgpool2d: grad_output does not match the output");
  grad_input.resize(input.shape());
  parallel_for(
      planes,
      [&](Index first, Index last) {
        for (Index p = first; p < last; ++p) {
          avg_pool2d_plane_backward(g, plane(grad_output, p, g.output_size()),
                                    plane(grad_input, p, g.input_size()));
        }
      },
      min_planes(g.input_size()));
}

Shape GlobalAvgPool2d::output_shape(const Shape& input) const {
  require_image(input, name_, kKind);
  return Shape{input[0], input[1]};
}

void GlobalAvgPool2d::forward(const Tensor& input, Tensor& output, const ForwardContext& /*context*/) {
  output.resize(output_shape(input.shape()));
  const Index plane_size = input.shape()[2] * input.shape()[3];
  parallel_for(
      output.size(),
      [&](Index first, Index last) {
        for (Index p = first; p < last; ++p) {
          double sum = 0.0;
          for (const float v : plane(input, p, plane_size)) sum += v;
          output[p] = static_cast<float>(sum / static_cast<double>(plane_size));
        }
      },
      min_planes(plane_size));
}

void GlobalAvgPool2d::backward(const Tensor& input, const Tensor& /*output*/, const Tensor& grad_output,
                               Tensor& grad_input) {
  require_image(input.shape(), name_, kKind);
  const Index plane_size = input.shape()[2] * input.shape()[3];
  require(grad_output.size() * plane_size == input.size(), "global_avg_pool2d: grad_output does not match");
  grad_input.resize(input.shape());
  const float scale = 1.0f / static_cast<float>(plane_size);
  parallel_for(
      grad_output.size(),
      [&](Index first, Index last) {
        for (Index p = first; p < last; ++p) {
          const std::span<float> values = plane(grad_input, p, plane_size);
          std::fill(values.begin(), values.end(), grad_output[p] * scale);
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
