// Reading a whole data file into memory, gunzipping it transparently when it starts with the gzip
// magic bytes (1f 8b), whatever its name. Every reader goes through here, so a missing or
// unreadable file gives the same DataError everywhere.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

namespace dlrun {

struct FileBytes {
  std::vector<std::uint8_t> bytes;  // the (decompressed) contents
  bool gzipped = false;             // byte offsets in messages then refer to the decompressed stream
};

// The largest data file dlrun reads, after decompression (docs/security.md): a file, or a gzip
// bomb of a few MB, claiming more is refused before it fills the memory.
inline constexpr std::uint64_t kMaxDataFileBytes = std::uint64_t{16} << 30;  // messages say "16 GiB"

// Reads `path` in large chunks. `role` names the file in messages ("images file", "CSV file").
// Throws DataError "<path>: <role> not found" (or unreadable, or corrupt gzip data, or larger than
// `max_bytes` once decompressed; only tests pass another limit than kMaxDataFileBytes).
FileBytes read_file_bytes(const std::filesystem::path& path, std::string_view role,
                          std::uint64_t max_bytes = kMaxDataFileBytes);

}  // namespace dlrun
