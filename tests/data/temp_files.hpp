// Scratch files for data-reader tests: malformed inputs are written at run time into a fresh
// temporary folder that is removed afterwards.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace dlrun::testing {

class TempDir {
 public:
  TempDir();  // a new, empty folder under the system temp directory
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // Writes `contents` byte for byte to path()/name and returns the full path.
  std::filesystem::path write(const std::string& name, std::string_view contents) const;
  // Writes `contents` gzip-compressed (through zlib) and returns the full path.
  std::filesystem::path write_gzip(const std::string& name, std::string_view contents) const;

 private:
  std::filesystem::path path_;
};

// The bytes of an IDX file: 0, 0, type, rank, big-endian dims, then `values`.
std::string idx_bytes(const std::vector<std::uint32_t>& dims, const std::vector<std::uint8_t>& values,
                      std::uint8_t type = 0x08);

// The whole contents of a file as bytes.
std::string file_contents(const std::filesystem::path& path);

}  // namespace dlrun::testing
