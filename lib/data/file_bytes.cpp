#include "data/file_bytes.hpp"

#include <sys/mman.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "core/errors.hpp"

namespace dlrun {
namespace {

constexpr std::size_t kChunk = std::size_t{1} << 22;    // 4 MiB per read call
constexpr std::size_t kMinChunk = std::size_t{1} << 16;  // 64 KiB for small files
constexpr std::size_t kMaxHint = std::size_t{1} << 30;  // a corrupt size field must not reserve more

[[noreturn]] void fail(const std::filesystem::path& path, std::string_view message) {
  throw DataError(Location{path.string()}, message);
}

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

struct GzCloser {
  void operator()(gzFile file) const { gzclose(file); }
};
using GzPtr = std::unique_ptr<gzFile_s, GzCloser>;

FilePtr open_or_fail(const std::filesystem::path& path, std::string_view role) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (!std::filesystem::exists(status)) fail(path, std::string(role) + " not found");
  if (std::filesystem::is_directory(status)) fail(path, std::string(role) + " is a directory, not a file");
  FilePtr file(std::fopen(path.c_str(), "rb"));
  if (!file) fail(path, "cannot open " + std::string(role) + ": " + std::strerror(errno));
  return file;
}

// Large buffers are filled once, front to back: transparent huge pages (where the kernel offers
// them on request) turn ~11k page faults for a 47 MB image file into a few dozen.
void advise_huge_pages(void* data, std::size_t size) {
#ifdef MADV_HUGEPAGE
  constexpr std::uintptr_t kHuge = std::uintptr_t{1} << 21;
  const auto begin = (reinterpret_cast<std::uintptr_t>(data) + kHuge - 1) & ~(kHuge - 1);
  const auto end = (reinterpret_cast<std::uintptr_t>(data) + size) & ~(kHuge - 1);
  if (end > begin) {
    madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);  // a hint; failure is fine
  }
#else
  (void)data;
  (void)size;
#endif
}

std::string size_text(std::uint64_t bytes) {
  if (bytes % (std::uint64_t{1} << 30) == 0) return std::to_string(bytes >> 30) + " GiB";
  return std::to_string(bytes) + " bytes";
}

// Reads until EOF in chunks, but never more than `max_bytes` (+ one chunk to notice); `hint` only
// reserves (untouched pages cost nothing), so a wrong hint is harmless. Returns nullopt when the
// stream holds more than `max_bytes`. Small files get small chunks: each chunk is zero-filled
// before the read: 4 MiB twice for a 100-byte file otherwise.
template <typename Read>
std::optional<std::vector<std::uint8_t>> read_chunks(std::size_t hint, std::uint64_t max_bytes, Read read) {
  const std::size_t chunk = std::clamp(hint + 1, kMinChunk, kChunk);
  std::vector<std::uint8_t> bytes;
  bytes.reserve(std::min({hint, kMaxHint, static_cast<std::size_t>(max_bytes)}) + chunk);
  advise_huge_pages(bytes.data(), bytes.capacity());
  std::size_t used = 0;
  for (;;) {
    if (used > max_bytes) return std::nullopt;
    bytes.resize(used + chunk);
    const std::size_t got = read(bytes.data() + used, chunk);
    used += got;
    if (got == 0) break;
  }
  bytes.resize(used);
  return bytes;
}

[[noreturn]] void too_large(const std::filesystem::path& path, std::string_view role,
                            std::uint64_t max_bytes) {
  fail(path, std::string(role) + " is larger than the " + size_text(max_bytes) + " limit for a data file");
}

std::vector<std::uint8_t> read_plain(std::FILE* file, const std::filesystem::path& path,
                                     std::string_view role, std::uint64_t max_bytes) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  if (!error && size > max_bytes) too_large(path, role, max_bytes);
  auto bytes =
      read_chunks(error ? kChunk : static_cast<std::size_t>(size), max_bytes,
                  [&](std::uint8_t* out, std::size_t count) { return std::fread(out, 1, count, file); });
  if (std::ferror(file)) fail(path, "cannot read " + std::string(role) + ": " + std::strerror(errno));
  if (!bytes) too_large(path, role, max_bytes);  // a file that grew while read
  return std::move(*bytes);
}

// The gzip trailer's ISIZE (uncompressed size mod 2^32) sizes the buffer up front, so a 47 MB
// image file is inflated without reallocation; it is only a hint (multi-member files, > 4 GiB).
std::size_t gzip_size_hint(std::FILE* file) {
  std::uint8_t trailer[4];
  if (std::fseek(file, -4, SEEK_END) != 0 || std::fread(trailer, 1, 4, file) != 4) return kChunk;
  const long compressed = std::ftell(file);
  const std::uint32_t size =
      static_cast<std::uint32_t>(trailer[0]) | static_cast<std::uint32_t>(trailer[1]) << 8 |
      static_cast<std::uint32_t>(trailer[2]) << 16 | static_cast<std::uint32_t>(trailer[3]) << 24;
  // Deflate expands at most 1032-fold: a larger claim is a lie not worth reserving for.
  return std::min<std::size_t>(size, static_cast<std::size_t>(compressed) * 1032 + kChunk);
}

std::vector<std::uint8_t> read_gzip(const std::filesystem::path& path, std::size_t hint,
                                    std::string_view role, std::uint64_t max_bytes) {
  GzPtr file(gzopen(path.c_str(), "rb"));
  if (!file) fail(path, "cannot open " + std::string(role) + ": " + std::strerror(errno));
  gzbuffer(file.get(), 1u << 20);
  auto bytes = read_chunks(hint, max_bytes, [&](std::uint8_t* out, std::size_t count) -> std::size_t {
    const int got = gzread(file.get(), out, static_cast<unsigned>(count));  // < 0: gzerror() says why
    return got > 0 ? static_cast<std::size_t>(got) : 0;
  });
  if (!bytes) {
    fail(path, std::string(role) + " decompresses to more than the " + size_text(max_bytes) +
                   " limit for a data file");
  }
  const std::size_t used = bytes->size();
  int code = Z_OK;
  const char* message = gzerror(file.get(), &code);
  if (code != Z_OK && code != Z_STREAM_END) {
    fail(path, "corrupt gzip data in " + std::string(role) + " after " + std::to_string(used) +
                   " decompressed bytes: " + message);
  }
  return std::move(*bytes);
}

}  // namespace

FileBytes read_file_bytes(const std::filesystem::path& path, std::string_view role, std::uint64_t max_bytes) {
  FilePtr file = open_or_fail(path, role);
  std::uint8_t magic[2] = {0, 0};
  const std::size_t magic_size = std::fread(magic, 1, 2, file.get());
  FileBytes result;
  result.gzipped = magic_size == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  if (result.gzipped) {
    const std::size_t hint = gzip_size_hint(file.get());
    file.reset();
    result.bytes = read_gzip(path, hint, role, max_bytes);
  } else {
    std::rewind(file.get());
    result.bytes = read_plain(file.get(), path, role, max_bytes);
  }
  return result;
}

}  // namespace dlrun
