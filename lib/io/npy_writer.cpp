#include "io/npy_writer.hpp"

#include <bit>
#include <cstring>

#include "core/errors.hpp"

namespace dlrun {

std::string npy_float32_bytes(const std::vector<Index>& shape, std::span<const float> values) {
  static_assert(std::endian::native == std::endian::little, "the .npy data is written as '<f4'");
  Index count = 1;
  for (const Index d : shape) count *= d;
  require(count == static_cast<Index>(values.size()), "npy_float32_bytes: shape and values disagree");

  std::string dims;
  for (const Index d : shape) dims += (dims.empty() ? "" : ", ") + std::to_string(d);
  if (shape.size() == 1) dims += ",";  // Python's 1-tuple: (N,)
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  // magic (6) + version (2) + header length (2) + header + '\n' is a multiple of 64.
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';

  std::string bytes = "\x93NUMPY";
  bytes += '\x01';
  bytes += '\x00';
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>((header.size() >> 8) & 0xff);
  bytes += header;
  const std::size_t data_start = bytes.size();
  bytes.resize(data_start + values.size() * sizeof(float));
  if (!values.empty()) std::memcpy(bytes.data() + data_start, values.data(), values.size() * sizeof(float));
  return bytes;
}

}  // namespace dlrun
