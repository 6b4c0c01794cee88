#include "support/temp_dir.hpp"

#include <stdlib.h>
#include <zlib.h>

#include <fstream>
#include <stdexcept>

namespace dlrun::testing {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "dlrun-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::filesystem::path TempDir::write(const std::string& name, std::string_view contents) const {
  const auto file = path_ / name;
  std::filesystem::create_directories(file.parent_path());
  write_bytes(file, contents);
  return file;
}

std::filesystem::path TempDir::write_gzip(const std::string& name, std::string_view contents) const {
  const auto file = path_ / name;
  gzFile out = gzopen(file.c_str(), "wb");
  if (out == nullptr) throw std::runtime_error("cannot write " + file.string());
  const int written =
      contents.empty() ? 0 : gzwrite(out, contents.data(), static_cast<unsigned>(contents.size()));
  gzclose(out);
  if (written != static_cast<int>(contents.size())) throw std::runtime_error("cannot write " + file.string());
  return file;
}

void write_bytes(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace dlrun::testing
