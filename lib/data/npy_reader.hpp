// NumPy .npy arrays (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
// versions 1-3, little-endian '<f4', '<f8', '|u1', '<i4', '<i8', C order. The header dictionary is
// parsed strictly; anything else is a DataError rather than a guess.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "data/dataset.hpp"
#include "data/labels.hpp"

namespace dlrun {

struct NpyArray {
  std::string dtype;                // "<f4", "<f8", "|u1", "<i4" or "<i8"
  std::vector<Index> shape;         // outermost first
  std::vector<std::uint8_t> bytes;  // the raw little-endian data, shape.product * item size bytes
  Index element_count() const;
};

// Reads one .npy file (gzip detected by magic). `role` names it in messages. Throws DataError naming
// the file for: missing file, bad magic or version, a malformed header (with its byte offset),
// Fortran order, an unsupported dtype, truncated data or trailing bytes.
NpyArray read_npy_array(const std::filesystem::path& path, std::string_view role);

// inputs (N, ...) -> sample_shape = the rest, or {1} for (N); uint8 stays uint8 (Dataset::bytes),
// other dtypes become floats (non-finite values are a DataError).
// labels (N, ...): classes -> integer values (or integral floats), classes over the sorted distinct
// values, labels_per_sample = product of the rest; targets -> floats with target_shape = the rest
// or {1}; `labels` may be empty (no labels). Throws DataError naming both files when N differs.
Dataset read_npy(const std::filesystem::path& inputs, const std::filesystem::path& labels, LabelKind kind);

}  // namespace dlrun
