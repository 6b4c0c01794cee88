// InputTransform: fitting per-feature statistics on the training rows and applying them per batch.
#include <cmath>
#include <limits>

#include "core/errors.hpp"
#include "data/dataset.hpp"

namespace dlrun {
namespace {

// Calls visit(row_values) for each row, with the row as a span of its stored type.
template <typename Visit>
void for_each_row(const Dataset& dataset, std::span<const Index> rows, Visit visit) {
  const auto per_sample = static_cast<std::size_t>(dataset.features_per_sample());
  for (const Index row : rows) {
    require(row >= 0 && row < dataset.size(), "InputTransform::fit: row out of range");
    const std::size_t start = static_cast<std::size_t>(row) * per_sample;
    if (dataset.bytes.empty()) {
      visit(std::span<const float>(dataset.floats).subspan(start, per_sample));
    } else {
      visit(std::span<const std::uint8_t>(dataset.bytes).subspan(start, per_sample));
    }
  }
}

template <typename T>
void apply_affine(std::span<const T> raw, std::span<float> out, const std::vector<float>& multiplier,
                  const std::vector<float>& offset) {
  require(raw.size() == out.size(), "InputTransform::apply: size mismatch");
  if (multiplier.empty()) {  // the identity
    for (std::size_t f = 0; f < raw.size(); ++f) out[f] = static_cast<float>(raw[f]);
    return;
  }
  require(raw.size() == multiplier.size(), "InputTransform::apply: feature count differs from the fit");
  for (std::size_t f = 0; f < raw.size(); ++f)
    out[f] = static_cast<float>(raw[f]) * multiplier[f] + offset[f];
}

}  // namespace

InputTransform InputTransform::fit(const Dataset& dataset, std::span<const Index> rows, double scale,
                                   const std::string& normalize) {
  if (normalize != "none" && normalize != "standard" && normalize != "minmax") {
    throw ConfigError("data.normalize: unknown value '" + normalize + "'; expected none, standard or minmax");
  }
  if (!(scale > 0.0) || !std::isfinite(scale)) {
    throw ConfigError("data.scale: must be a finite number > 0, got " + std::to_string(scale));
  }
  const auto features = static_cast<std::size_t>(dataset.features_per_sample());
  // Statistics are per input element, except for time series, whose windows (window, F) share one
  // set per column: statistic index = f % stats (the last axis varies fastest).
  const Shape& shape = dataset.sample_shape;
  const std::size_t stats =
      dataset.time_series && shape.rank() == 2 ? static_cast<std::size_t>(shape[1]) : features;
  // Statistics of the scaled values x / scale, accumulated in double over the training rows.
  std::vector<double> center(stats, 0.0);  // mean or min
  std::vector<double> spread(stats, 1.0);  // std or max - min; 0 becomes 1
  if (normalize == "standard" && !rows.empty()) {
    std::vector<double> sum(stats, 0.0), squares(stats, 0.0);
    for_each_row(dataset, rows, [&](auto values) {
      for (std::size_t f = 0; f < features; ++f) sum[f % stats] += static_cast<double>(values[f]);
    });
    const double n = static_cast<double>(rows.size()) * static_cast<double>(features / stats);
    for (std::size_t k = 0; k < stats; ++k) center[k] = sum[k] / n;
    for_each_row(dataset, rows, [&](auto values) {  // two passes: no cancellation in the variance
      for (std::size_t f = 0; f < features; ++f) {
        const double d = static_cast<double>(values[f]) - center[f % stats];
        squares[f % stats] += d * d;
      }
    });
    for (std::size_t k = 0; k < stats; ++k) {
      center[k] /= scale;
      spread[k] = std::sqrt(squares[k] / n) / scale;  // population std, as sklearn's StandardScaler
    }
  } else if (normalize == "minmax" && !rows.empty()) {
    std::vector<double> low(stats, std::numeric_limits<double>::infinity());
    std::vector<double> high(stats, -std::numeric_limits<double>::infinity());
    for_each_row(dataset, rows, [&](auto values) {
      for (std::size_t f = 0; f < features; ++f) {
        low[f % stats] = std::min(low[f % stats], static_cast<double>(values[f]));
        high[f % stats] = std::max(high[f % stats], static_cast<double>(values[f]));
      }
    });
    for (std::size_t k = 0; k < stats; ++k) {
      center[k] = low[k] / scale;
      spread[k] = (high[k] - low[k]) / scale;
    }
  } else if (normalize != "none") {
    require(false, "InputTransform::fit: normalisation needs at least one training row");
  }

  InputTransform transform;
  transform.multiplier.resize(features);
  transform.offset.resize(features);
  for (std::size_t f = 0; f < features; ++f) {
    if (!dataset.one_hot.empty() && dataset.one_hot[f]) {  // 0/1 indicators stay 0/1, as sklearn's
      transform.multiplier[f] = 1.0f;                      // ColumnTransformer leaves them
      transform.offset[f] = 0.0f;
      continue;
    }
    const std::size_t k = f % stats;
    const double s = spread[k] > 0.0 ? spread[k] : 1.0;
    // ((x / scale) - center) / s  ==  x * (1 / (scale * s)) + (-center / s)
    transform.multiplier[f] = static_cast<float>(1.0 / (scale * s));
    transform.offset[f] = static_cast<float>(-center[k] / s);
  }
  return transform;
}

void InputTransform::apply(std::span<const float> raw, std::span<float> out) const {
  apply_affine(raw, out, multiplier, offset);
}

void InputTransform::apply(std::span<const std::uint8_t> raw, std::span<float> out) const {
  apply_affine(raw, out, multiplier, offset);
}

}  // namespace dlrun
