// The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/), raw or gzipped.
// Images stay uint8 in memory; the batcher converts per batch.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "core/tensor.hpp"
#include "data/dataset.hpp"

namespace dlrun {

// One IDX file: dims outermost first, values as unsigned bytes (type code 0x08).
struct IdxArray {
  std::vector<Index> dims;
  std::vector<std::uint8_t> values;
};

// Reads one IDX file (gzip detected by its magic bytes). `role` names it in messages.
// Throws DataError naming the file for: missing file, wrong magic, a type other than unsigned byte,
// a truncated header or data (with the byte offset), trailing bytes, zero examples.
IdxArray read_idx_array(const std::filesystem::path& path, std::string_view role);

// Images (N, rows, cols) -> sample_shape {1, rows, cols}; (N, F) -> {F}; (N, C, H, W) -> {C, H, W}.
// Labels (N) -> class indices over the sorted distinct label values (class_names "0", "1", ...).
// `labels` may be empty (autoencoders): the dataset then has no labels.
// Throws DataError naming both files when the example counts differ.
Dataset read_idx(const std::filesystem::path& images, const std::filesystem::path& labels);

}  // namespace dlrun
