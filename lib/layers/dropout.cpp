#include "layers/dropout.hpp"

#include <algorithm>
#include <cmath>

#include "core/errors.hpp"
#include "core/simd.hpp"
#include "core/threads.hpp"

namespace dlrun {
namespace {

// Elements per independent random stream. Fixed, so the mask does not depend on the thread count.
constexpr Index kChunk = 8192;

// One chunk of the mask from its own stream: each 64-bit draw decides two elements, an element
// being dropped when its 32 bits fall below rate * 2^32.
void draw_mask(Rng& rng, std::uint64_t threshold, float scale, float* mask, Index count) {
  Index i = 0;
  for (; i + 2 <= count; i += 2) {
    const std::uint64_t bits = rng.next_u64();
    mask[i] = (bits & 0xFFFFFFFFu) < threshold ? 0.0f : scale;
    mask[i + 1] = (bits >> 32) < threshold ? 0.0f : scale;
  }
  if (i < count) mask[i] = (rng.next_u64() & 0xFFFFFFFFu) < threshold ? 0.0f : scale;
}

DLRUN_SIMD_CLONES void multiply(const float* __restrict a, const float* __restrict b, float* __restrict out,
                                Index count) {
  for (Index i = 0; i < count; ++i) out[i] = a[i] * b[i];
}

}  // namespace

Dropout::Dropout(double rate, std::string name) : rate_(rate), name_(std::move(name)) {
  require(rate_ >= 0.0 && rate_ < 1.0, "dropout: rate must be in [0, 1)");
}

Shape Dropout::output_shape(const Shape& input) const {
  if (input.rank() < 1) throw ShapeError("layer '" + name_ + "' (dropout): input has no batch axis");
  return input;
}

void Dropout::forward(const Tensor& input, Tensor& output, const ForwardContext& context) {
  output.resize(output_shape(input.shape()));
  masked_ = context.mode == Mode::train && rate_ > 0.0;
  if (!masked_) {
    std::copy(input.values().begin(), input.values().end(), output.values().begin());
    return;
  }
  require(context.rng != nullptr, "dropout: Mode::train needs ForwardContext.rng");
  // One draw from the step's stream seeds a stream per chunk of elements, so chunks are drawn in
  // parallel and the mask depends only on the step's stream.
  const std::uint64_t seed = context.rng->next_u64();
  mask_.resize(input.shape());
  const float scale = static_cast<float>(1.0 / (1.0 - rate_));
  const auto threshold = static_cast<std::uint64_t>(std::ldexp(rate_, 32));
  const Index chunks = (input.size() + kChunk - 1) / kChunk;
  parallel_for(chunks, [&](Index first, Index last) {
    for (Index chunk = first; chunk < last; ++chunk) {
      Rng rng(seed ^ (static_cast<std::uint64_t>(chunk) + 1) * 0x9E3779B97F4A7C15ull);
      const Index begin = chunk * kChunk;
      const Index count = std::min(kChunk, input.size() - begin);
      draw_mask(rng, threshold, scale, mask_.data() + begin, count);
      multiply(input.data() + begin, mask_.data() + begin, output.data() + begin, count);
    }
  });
}

void Dropout::backward(const Tensor& input, const Tensor& /*output*/, const Tensor& grad_output,
                       Tensor& grad_input) {
  grad_input.resize(input.shape());
  if (!masked_) {
    std::copy(grad_output.values().begin(), grad_output.values().end(), grad_input.values().begin());
    return;
  }
  require(mask_.shape() == grad_output.shape(), "dropout: backward without a matching train forward");
  parallel_for(
      grad_input.size(),
      [&](Index begin, Index end) {
        multiply(grad_output.data() + begin, mask_.data() + begin, grad_input.data() + begin, end - begin);
      },
      kChunk);
}

std::unique_ptr<Layer> make_dropout(Options& options, const LayerBuildContext& context) {
  const double rate = options.number("rate", 0.5);
  options.require_in("rate", rate, 0.0, 1.0);
  return std::make_unique<Dropout>(rate, context.name);
}

}  // namespace dlrun
