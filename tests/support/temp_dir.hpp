// Scratch folders and files for tests: a fresh folder under the system temp dir, removed with
// everything in it afterwards, and helpers to put exact bytes into files.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace dlrun::testing {

class TempDir {
 public:
  TempDir();  // a new, empty folder (mkdtemp)
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }
  // Writes `contents` byte for byte to path()/name (creating subfolders) and returns the full path.
  std::filesystem::path write(const std::string& name, std::string_view contents) const;
  // Writes `contents` gzip-compressed (through zlib) and returns the full path.
  std::filesystem::path write_gzip(const std::string& name, std::string_view contents) const;

 private:
  std::filesystem::path path_;
};

void write_bytes(const std::filesystem::path& path, std::string_view bytes);
// The whole contents of a file; throws std::runtime_error when it cannot be read.
std::string read_bytes(const std::filesystem::path& path);

}  // namespace dlrun::testing
