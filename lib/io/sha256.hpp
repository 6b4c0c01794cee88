// SHA-256 (FIPS 180-4) of bytes, strings and files, as lowercase hex: provenance of data files and
// checkpoints in summaries and journals. Our own implementation: no OpenSSL in dlrun's stack.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace dlrun {

// Incremental hashing: update() any number of times, then hex_digest() once.
class Sha256 {
 public:
  Sha256();
  void update(std::span<const std::byte> bytes);
  void update(std::string_view text) { update(std::as_bytes(std::span(text.data(), text.size()))); }
  // Finishes the hash (the object must not be updated afterwards) and returns 64 hex digits.
  std::string hex_digest();

 private:
  void compress(const std::uint8_t* block);

  std::array<std::uint32_t, 8> state_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t total_bytes_ = 0;
  bool finished_ = false;
};

std::string sha256_hex(std::string_view text);

// Streams the file in 1 MiB chunks. Throws DataError "<path>: cannot read: <strerror>".
std::string sha256_file_hex(const std::filesystem::path& path);

}  // namespace dlrun
