#include "train/batch.hpp"

#include <algorithm>

namespace dlrun {

void BatchAssembler::assemble(const Dataset& dataset, std::span<const Index> rows,
                              const InputTransform& transform, const Task& task) {
  const auto n = static_cast<Index>(rows.size());
  gather_inputs(dataset, rows, transform, inputs_);
  has_values_ = false;
  labels_.clear();
  if (task.autoencoder) {
    values_.resize(task.output_shape.with_batch(n));
    std::copy(inputs_.values().begin(), inputs_.values().end(), values_.values().begin());
    has_values_ = true;
  } else if (task.classes > 0) {
    gather_labels(dataset, rows, labels_);
  } else {
    gather_targets(dataset, rows, values_);
    values_.reshape(task.output_shape.with_batch(n));
    has_values_ = true;
  }
}

BatchTargets BatchAssembler::targets() const {
  BatchTargets targets;
  if (has_values_) {
    targets.values = &values_;
  } else {
    targets.labels = labels_;
  }
  return targets;
}

}  // namespace dlrun
