// CRC-32 (ISO-HDLC, the polynomial of zlib, gzip and PNG) over byte spans, through zlib: the
// checksum of dlrun's checkpoints (docs/checkpoints.md). Start with 0 and feed the bytes in order:
// crc32_update(crc32_update(0, a), b) == crc32 of a followed by b.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace dlrun {

std::uint32_t crc32_update(std::uint32_t crc, std::span<const std::byte> bytes);

inline std::uint32_t crc32_update(std::uint32_t crc, std::string_view text) {
  return crc32_update(crc, std::as_bytes(std::span(text.data(), text.size())));
}

}  // namespace dlrun
