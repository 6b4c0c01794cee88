#include "compress/calibration.hpp"

#include <algorithm>
#include <cmath>

#include "core/errors.hpp"

namespace dlrun {

void ActivationRange::add(std::span<const float> values) {
  for (const float v : values) {
    if (!std::isfinite(v)) continue;
    low = std::min(low, v);
    high = std::max(high, v);
  }
}

std::vector<ActivationRange> calibrate_int8_inputs(Model& model, const std::vector<QuantizationStep>& plan,
                                                   const DataView& view, const InputTransform& transform,
                                                   Index batch_size, Index batches) {
  require(batch_size >= 1 && batches >= 1, "calibrate_int8_inputs: no batches");
  const Index count = std::min(view.size(), batch_size * batches);
  std::vector<Index> rows(static_cast<std::size_t>(count));
  for (Index i = 0; i < count; ++i)
    rows[static_cast<std::size_t>(i)] = view.rows[static_cast<std::size_t>(i * view.size() / count)];
  std::vector<ActivationRange> ranges;
  for (const QuantizationStep& step : plan) {
    if (step.int8) ranges.emplace_back();
  }
  Tensor batch;
  for (Index begin = 0; begin < count; begin += batch_size) {
    const Index end = std::min(count, begin + batch_size);
    gather_inputs(*view.dataset,
                  std::span<const Index>(rows.data() + begin, static_cast<std::size_t>(end - begin)),
                  transform, batch);
    model.forward(batch, ForwardContext{Mode::eval, nullptr});
    std::size_t next = 0;
    for (const QuantizationStep& step : plan) {
      if (!step.int8) continue;
      ranges[next++].add(step.first == 0 ? batch.values() : model.output(step.first - 1).values());
    }
  }
  return ranges;
}

}  // namespace dlrun
