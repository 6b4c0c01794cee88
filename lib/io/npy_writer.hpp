// Writing NumPy .npy files (format version 1.0, little-endian float32, C order), the format that
// `dlrun predict --output x.npy` writes and numpy.load reads. data/npy_reader.hpp reads them back.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "core/tensor.hpp"

namespace dlrun {

// The bytes of a .npy file holding `values` with `shape` (outermost first). The header is padded
// so that the data starts at a multiple of 64 bytes, as numpy writes it. Throws InternalError when
// the shape's product is not values.size().
std::string npy_float32_bytes(const std::vector<Index>& shape, std::span<const float> values);

}  // namespace dlrun
