// The JSON header of a safetensors file (docs/checkpoints.md), read by a streaming parser of our
// own instead of a JSON library's document tree: the header is untrusted, and a tree of 16 MiB of
// `[0,0,...` or of deep nesting costs many times the text in memory (and recursion to free). This
// parser keeps only what the format uses (the tensor entries and the string metadata), checks each
// field as it reads it, and bounds every count, so that its memory stays within a small multiple of
// the header's length. Every problem is one DataError "<file>: <what>" naming the field.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.hpp"

namespace dlrun {

// Limits on what a header may claim (docs/checkpoints.md). A checkpoint of a few hundred tensors
// with its config and history has a header of tens of KB.
inline constexpr std::uint64_t kMaxSafetensorsHeaderBytes = 16 * 1024 * 1024;
inline constexpr std::size_t kMaxSafetensorsTensors = 100'000;
// A tensor becomes a Shape, which holds at most Shape::kMaxRank (8) dimensions inline. With the tensor
// limit this also bounds the dimensions of all tensors together (800,000, 8 bytes each).
inline constexpr std::size_t kMaxSafetensorsRank = 8;
// Values under keys the format does not define (skipped, as the reference implementation does).
inline constexpr std::size_t kMaxSafetensorsNesting = 64;

inline constexpr std::string_view kSafetensorsMetadataKey = "__metadata__";
// The metadata key of the file's CRC-32 (safetensors.hpp).
inline constexpr std::string_view kSafetensorsChecksumKey = "checksum";

// The dtypes read; all but F32 are converted to float32 on load (F16, BF16 and F64 from PyTorch;
// I8 and U8 from `dlrun quantize` and pruning masks).
enum class SafetensorsDtype { f32, f16, bf16, f64, i8, u8 };

struct SafetensorsEntry {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::f32;
  std::string_view dtype_name;  // "F32", ... (static storage)
  std::vector<Index> dims;
  std::uint64_t begin = 0;  // data_offsets, relative to the start of the data area
  std::uint64_t end = 0;
};

struct SafetensorsHeader {
  std::map<std::string, std::string> metadata;  // "__metadata__", as written
  std::vector<SafetensorsEntry> tensors;        // in header order
  // Where the value of the metadata's "checksum" starts in the header text (just after its opening
  // quote), when there is one and it is written without escapes.
  std::optional<std::size_t> checksum_at;
};

// Parses `text`, the header of `path` whose data area is `data_size` bytes. Checks the JSON syntax
// (strict: UTF-8, no trailing text but whitespace), that the header is an object without duplicate
// keys, the metadata an object of strings, and each tensor entry: a known dtype, a shape of at most
// kMaxSafetensorsRank non-negative integers, data_offsets [begin, end]
// with begin <= end <= data_size, and a byte count (computed without overflow) equal to end - begin. The
// tensors' layout relative to each other (gaps, overlaps) is the caller's to check. Throws DataError naming
// the field.
SafetensorsHeader parse_safetensors_header(const std::filesystem::path& path, std::string_view text,
                                           std::uint64_t data_size);

}  // namespace dlrun
