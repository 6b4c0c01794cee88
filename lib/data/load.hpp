// Loads the datasets a config names: reads the files, holds out the validation split (stratified),
// and fits the input transform on the training rows only.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "config/config.hpp"
#include "data/dataset.hpp"

namespace dlrun {

// Some rows of one dataset. Shared ownership keeps views valid when LoadedData moves.
struct DataView {
  std::shared_ptr<const Dataset> dataset;
  std::vector<Index> rows;
  bool empty() const { return rows.empty(); }
  Index size() const { return static_cast<Index>(rows.size()); }
};

struct LoadedData {
  DataView train;
  DataView validation;  // empty when the config has no validation
  DataView test;        // empty when the config has no test set
  InputTransform transform;
};

// Reads one source. `classification`: CSV/NPY labels are classes (strings mapped to sorted class
// names; integers kept as given) rather than regression targets. Throws DataError with file and
// line (and column for CSV) on malformed input, ConfigError for a config that names missing columns.
Dataset read_source(const DataSource& source, bool classification, const DataConfig& config);

// as_sequence: an image sample_shape {1, H, W} becomes {H, W} (H steps of W features); a {T, F}
// shape is already a sequence and stays. Throws ConfigError at `where` for other shapes.
void apply_as_sequence(Dataset& dataset, const Location& where);

// Makes a test, validation or prediction dataset consistent with the training data: the same
// sample_shape (and feature names, when both have them), and its class indices remapped by name
// onto train's class_names (token ids too, for text). Throws DataError naming both files when the
// shapes differ or `other` has a class the training data lacks.
void align_with_train(const Dataset& train, Dataset& other);

// Everything for a run. The validation split is drawn from Rng::for_stream(seed, "split").
// load_unencoded_data then encode_and_fit.
LoadedData load_data(const DataConfig& config, bool classification, std::uint64_t seed);

// The datasets read and split, their categorical cells not yet one-hot encoded (their features
// are the file's columns) and no transform fitted: for dlrun cv, which encodes per fold.
LoadedData load_unencoded_data(const DataConfig& config, bool classification, std::uint64_t seed);

// Learns the categories of data.categorical from the training rows and replaces every view's
// dataset by its one-hot encoded copy (categorical.hpp; DataError for a category the training
// rows lack, unless data.handle_unknown: ignore), then fits the transform on the training rows.
void encode_and_fit(LoadedData& loaded, const DataConfig& config);

}  // namespace dlrun
