// Reading and writing safetensors files (8-byte little-endian header length, JSON header, raw
// little-endian data), the checkpoint container of DESIGN.md §5; docs/checkpoints.md describes the
// format, the checksum, the limits and what each check catches. Tensors are written as F32, or as
// I8 / U8 when asked (int8 quantized weights, pruning masks); reading validates everything before
// use and reports a bad file as one DataError naming the file and the field.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.hpp"

namespace dlrun {

struct SafetensorsContents {
  std::map<std::string, std::string> metadata;          // "__metadata__", without the checksum
  std::vector<std::pair<std::string, Tensor>> tensors;  // in data-offset (file) order
  std::optional<std::uint32_t> checksum;                // the CRC-32 verified, when the file has one
  const Tensor* find(std::string_view name) const;
};

// Writes atomically: a temporary file in the same folder, flushed and fsynced, then renamed over
// `path` (AtomicFile). Throws OutputError (and removes the temporary) when anything fails; `path` is
// then as it was. The metadata gets "checksum": "crc32:<8 hex digits>", the CRC-32 of the whole file
// with those digits read as "00000000"; `metadata` must not hold that key itself.
void write_safetensors(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                       const std::map<std::string, std::string>& metadata);
// As above; `dtypes` maps tensor names to "I8" or "U8" (others are F32). Their values must be
// integers in the dtype's range (a programming error otherwise).
void write_safetensors(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                       const std::map<std::string, std::string>& metadata,
                       const std::map<std::string, std::string>& dtypes);

// Reads and validates: the header length against the file and the 16 MiB limit, the header
// (safetensors_header.hpp: strict JSON, limits, dtypes, shapes against byte ranges, offsets inside
// the data area), the tensors tiling the data area (no overlap, gap or trailing bytes), and the
// checksum when there is one; a file whose "format" starts with "dlrun-" must have one (dlrun wrote
// it). Files without a checksum from other writers (PyTorch) are read as they are. F16, BF16 and F64
// tensors, I8 and U8 are converted to float32 (exactly, but for F64). Throws DataError "<file>: ...".
SafetensorsContents read_safetensors(const std::filesystem::path& path);

// "crc32:0123abcd", the checksum's text.
std::string safetensors_checksum_text(std::uint32_t crc);

}  // namespace dlrun
