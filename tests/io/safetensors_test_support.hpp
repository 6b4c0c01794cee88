// Shared by the safetensors tests: raw safetensors bytes built by hand.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dlrun::testing {

// `value` as 8 little-endian bytes: the header-length field.
inline std::string le64(std::uint64_t value) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((value >> (8 * i)) & 0xff);
  return bytes;
}

// A safetensors file from a header text and raw data; the length field is the header's own
// unless `declared_length` says otherwise.
inline std::string make_file(std::string_view header, std::string_view data = "",
                             std::optional<std::uint64_t> declared_length = std::nullopt) {
  return le64(declared_length.value_or(header.size())) + std::string(header) + std::string(data);
}

}  // namespace dlrun::testing
