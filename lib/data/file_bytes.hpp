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

// Reads `path` in large chunks. `role` names the file in messages ("images file", "CSV file").
// Throws DataError "<path>: <role> not found" (or unreadable, or corrupt gzip data).
FileBytes read_file_bytes(const std::filesystem::path& path, std::string_view role);

}  // namespace dlrun
