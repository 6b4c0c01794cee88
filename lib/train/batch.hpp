// Assembles mini-batches from a data view into buffers that are reused from batch to batch.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "data/load.hpp"
#include "losses/loss.hpp"

namespace dlrun {

// What the model is trained to produce.
struct Task {
  Index classes = 0;         // > 0: classification with labels; 0: regression or autoencoder
  bool autoencoder = false;  // targets are the (transformed) inputs
  Shape output_shape;        // the model's output for one example; value targets take this shape
};

class BatchAssembler {
 public:
  // Fills inputs (and labels or targets) for `rows` of the view's dataset.
  void assemble(const Dataset& dataset, std::span<const Index> rows, const InputTransform& transform,
                const Task& task);
  const Tensor& inputs() const { return inputs_; }
  BatchTargets targets() const;

 private:
  Tensor inputs_;
  std::vector<std::int32_t> labels_;
  Tensor values_;
  bool has_values_ = false;
};

}  // namespace dlrun
