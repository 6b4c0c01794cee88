// Reading new inputs for prediction: the same formats as training data, without labels, checked
// to have the training data's example shape.
#pragma once

#include <filesystem>
#include <string>

#include "config/config.hpp"
#include "data/dataset.hpp"

namespace dlrun {

// format: idx | csv | npy, or "" to pick it from the file name (.csv, .npy, anything else IDX).
// CSV inputs take the training data's feature columns by name (other columns, such as a label, are
// ignored) with its delimiter and header setting. Throws DataError (exit 3) for malformed files or
// an example shape other than `train`'s.
Dataset read_prediction_inputs(const std::filesystem::path& file, std::string format,
                               const DataConfig& config, const Dataset& train);

}  // namespace dlrun
