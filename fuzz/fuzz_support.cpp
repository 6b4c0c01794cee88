#include "fuzz_support.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <system_error>
#include <vector>

namespace dlrun::fuzz {

namespace {

std::vector<std::filesystem::path>& scratch_files() {
  static std::vector<std::filesystem::path> files;
  return files;
}

void remove_scratch_files() {
  std::error_code ignored;
  for (const auto& file : scratch_files()) std::filesystem::remove(file, ignored);
}

}  // namespace

std::filesystem::path scratch_path(std::string_view suffix) {
  if (scratch_files().empty()) std::atexit(remove_scratch_files);
  scratch_files().push_back("/dev/shm/dlrun-fuzz-" + std::to_string(::getpid()) + "-" + std::string(suffix));
  return scratch_files().back();
}

void write_bytes(const std::filesystem::path& path, const std::uint8_t* data, std::size_t size) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr || (size > 0 && std::fwrite(data, 1, size, file) != size) || std::fclose(file) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
}

TwoFiles split_two_files(const std::uint8_t* data, std::size_t size) {
  TwoFiles files;
  if (size == 0) return files;
  files.flags = data[0];
  std::size_t first = 0;
  for (std::size_t i = 0; i < 4 && 1 + i < size; ++i) first |= std::size_t{data[1 + i]} << (8 * i);
  const std::size_t start = size < 5 ? size : 5;
  const std::string_view rest(reinterpret_cast<const char*>(data) + start, size - start);
  if (first > rest.size()) first = rest.size();
  files.first = rest.substr(0, first);
  files.second = rest.substr(first);
  return files;
}

}  // namespace dlrun::fuzz
