// Datasets kept compact in memory (IDX images as uint8), views over rows, and the batcher that
// gathers shuffled mini-batches into preallocated tensors, converting and normalising per batch.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/random.hpp"
#include "core/tensor.hpp"
#include "data/categorical.hpp"

namespace dlrun {

struct Dataset {
  std::string source;                // the file(s) it came from, for messages
  Shape sample_shape;                // one example's input shape: {1, 28, 28}, {4}, {T}, ...
  std::vector<std::uint8_t> bytes;   // inputs, when stored as uint8 (IDX, text token ids)
  std::vector<float> floats;         // inputs otherwise
  std::vector<std::int32_t> labels;  // class targets: one per example, or per step for text
  Index labels_per_sample = 1;
  std::vector<float> targets;            // regression targets
  Shape target_shape;                    // one example's regression target shape, e.g. {1}
  std::vector<std::string> class_names;  // classification: class index -> name
  std::vector<std::string> feature_names;
  bool token_ids = false;  // inputs are class indices into class_names (text data)
  // Inputs are windows (window, F) of one time-ordered series (timeseries data): normalisation
  // statistics are per column F, shared by the window's steps, and the validation split is the
  // last fraction of the windows, in time order.
  bool time_series = false;
  // CSV data with data.categorical: before encoding, the cells (their codes are in `floats`);
  // after encoding (categorical.hpp), the learnt categories and a 1 per one-hot feature, which
  // scaling and normalisation leave alone. The cells stay, for the columns of prediction inputs.
  std::shared_ptr<const CategoricalCells> categorical_cells;
  std::vector<CategoricalColumn> categories;
  std::vector<std::uint8_t> one_hot;  // per feature; empty when none is one-hot

  Index size() const;
  Index features_per_sample() const { return sample_shape.element_count(); }
  bool is_classification() const { return !labels.empty(); }
  // The raw value of feature f of example i, as float (before scaling / normalising).
  float raw(Index i, Index f) const;
};

// Per-feature affine transform applied per batch: x' = (x * multiplier[f]) + offset[f]; it folds
// `scale` and the fitted normalisation together.
struct InputTransform {
  std::vector<float> multiplier;
  std::vector<float> offset;
  // scale: divide raw values by it; normalize: none | standard | minmax, fitted on `rows` of
  // `dataset` only (the training rows). One-hot features (Dataset::one_hot) are left as they are.
  static InputTransform fit(const Dataset& dataset, std::span<const Index> rows, double scale,
                            const std::string& normalize);
  // out[f] = raw[f] * multiplier[f] + offset[f]; an empty transform is the identity. Assigns out,
  // which has the size of raw (the features of one example).
  void apply(std::span<const float> raw, std::span<float> out) const;
  void apply(std::span<const std::uint8_t> raw, std::span<float> out) const;
};

// Gathers rows of a dataset into batch tensors.
//   inputs: (B, sample_shape...), transformed; labels: B * labels_per_sample;
//   targets (regression or autoencoder): (B, target_shape...).
void gather_inputs(const Dataset& dataset, std::span<const Index> rows, const InputTransform& transform,
                   Tensor& inputs);
void gather_labels(const Dataset& dataset, std::span<const Index> rows, std::vector<std::int32_t>& labels);
void gather_targets(const Dataset& dataset, std::span<const Index> rows, Tensor& targets);

// `rows` grouped by class label (one example, one label): groups[label] in the order of `rows`;
// classes without rows give empty groups.
std::vector<std::vector<Index>> rows_by_label(const Dataset& dataset, std::span<const Index> rows);

// Stratified (by label when classification) split of `rows` into (train, held_out), held_out
// being round(fraction * n) rows; deterministic given rng. For time-series data the held-out rows
// are the last ones of `rows` (taken in time order) and nothing is shuffled: validating on the
// future of the training windows, as a forecast will be used, and not on windows interleaved with
// them (their targets would lie inside training windows).
struct Split {
  std::vector<Index> train;
  std::vector<Index> held_out;
};
Split split_rows(const Dataset& dataset, std::span<const Index> rows, double fraction, Rng& rng);

}  // namespace dlrun
