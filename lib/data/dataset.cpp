#include "data/dataset.hpp"

#include <algorithm>

#include "core/errors.hpp"

namespace dlrun {
namespace {

// Resizes `batch` to (n, shape...): no allocation once its storage has grown (Shape is inline).
void resize_batch(Tensor& batch, Index n, const Shape& shape) {
  batch.resize(shape.with_batch(n));
}

void require_row(const Dataset& dataset, Index row) {
  require(row >= 0 && row < dataset.size(), "dataset row out of range");
}

}  // namespace

Index Dataset::size() const {
  const Index per_sample = features_per_sample();
  if (per_sample == 0) return 0;
  return static_cast<Index>(bytes.empty() ? floats.size() : bytes.size()) / per_sample;
}

float Dataset::raw(Index i, Index f) const {
  const auto at = static_cast<std::size_t>(i * features_per_sample() + f);
  return bytes.empty() ? floats[at] : static_cast<float>(bytes[at]);
}

void gather_inputs(const Dataset& dataset, std::span<const Index> rows, const InputTransform& transform,
                   Tensor& inputs) {
  const Index n = static_cast<Index>(rows.size());
  const auto per_sample = static_cast<std::size_t>(dataset.features_per_sample());
  resize_batch(inputs, n, dataset.sample_shape);
  for (Index b = 0; b < n; ++b) {
    const Index row = rows[static_cast<std::size_t>(b)];
    require_row(dataset, row);
    const std::span<float> out = sample(inputs, b);
    const std::size_t start = static_cast<std::size_t>(row) * per_sample;
    if (dataset.bytes.empty()) {
      transform.apply(std::span<const float>(dataset.floats).subspan(start, per_sample), out);
    } else {
      transform.apply(std::span<const std::uint8_t>(dataset.bytes).subspan(start, per_sample), out);
    }
  }
}

void gather_labels(const Dataset& dataset, std::span<const Index> rows, std::vector<std::int32_t>& labels) {
  require(dataset.is_classification(), "gather_labels: the dataset has no class labels");
  const auto per_sample = static_cast<std::size_t>(dataset.labels_per_sample);
  labels.resize(rows.size() * per_sample);
  for (std::size_t b = 0; b < rows.size(); ++b) {
    require_row(dataset, rows[b]);
    const auto first =
        dataset.labels.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(rows[b]) * per_sample);
    std::copy(first, first + static_cast<std::ptrdiff_t>(per_sample),
              labels.begin() + static_cast<std::ptrdiff_t>(b * per_sample));
  }
}

void gather_targets(const Dataset& dataset, std::span<const Index> rows, Tensor& targets) {
  require(!dataset.targets.empty(), "gather_targets: the dataset has no regression targets");
  const Index n = static_cast<Index>(rows.size());
  const auto per_sample = static_cast<std::size_t>(dataset.target_shape.element_count());
  resize_batch(targets, n, dataset.target_shape);
  for (Index b = 0; b < n; ++b) {
    const Index row = rows[static_cast<std::size_t>(b)];
    require_row(dataset, row);
    const auto first =
        dataset.targets.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(row) * per_sample);
    std::copy(first, first + static_cast<std::ptrdiff_t>(per_sample), sample(targets, b).begin());
  }
}

}  // namespace dlrun
