#include "io/crc32.hpp"

#include <zlib.h>

#include <algorithm>

namespace dlrun {

std::uint32_t crc32_update(std::uint32_t crc, std::span<const std::byte> bytes) {
  // zlib takes lengths as uInt (32 bits): a tensor over 4 GiB goes in pieces.
  constexpr std::size_t kPiece = std::size_t{1} << 30;
  uLong value = crc;
  while (!bytes.empty()) {
    const std::size_t piece = std::min(bytes.size(), kPiece);
    value = ::crc32(value, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(piece));
    bytes = bytes.subspan(piece);
  }
  return static_cast<std::uint32_t>(value);
}

}  // namespace dlrun
