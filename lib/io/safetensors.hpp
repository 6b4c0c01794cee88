// Reading and writing safetensors files (8-byte little-endian header length, JSON header, raw
// little-endian data), the checkpoint container of DESIGN.md §5. Tensors are written as F32, or as
// I8 / U8 when asked (int8 quantized weights, pruning masks); reading validates everything before
// use and reports a bad file as one DataError.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.hpp"

namespace dlrun {

struct SafetensorsContents {
  std::map<std::string, std::string> metadata;          // "__metadata__"
  std::vector<std::pair<std::string, Tensor>> tensors;  // in file order
  const Tensor* find(std::string_view name) const;
};

// Writes atomically: a temporary file in the same folder, flushed and fsynced, then renamed over
// `path`. Throws OutputError (and removes the temporary) when anything fails; `path` is then as it was.
void write_safetensors(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                       const std::map<std::string, std::string>& metadata);
// As above; `dtypes` maps tensor names to "I8" or "U8" (others are F32). Their values must be
// integers in the dtype's range (a programming error otherwise).
void write_safetensors(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                       const std::map<std::string, std::string>& metadata,
                       const std::map<std::string, std::string>& dtypes);

// Reads and validates: header length within the file, JSON well-formed, dtypes F32, shapes vs
// byte ranges, offsets inside the data area and non-overlapping. Throws DataError naming the file.
// F16, BF16 and F64 tensors (weights saved by PyTorch in those precisions), I8 and U8 are converted to
// float32 (exactly, but for F64); any other dtype is a DataError naming it. Tensors come back in data-offset
// order.
SafetensorsContents read_safetensors(const std::filesystem::path& path);

}  // namespace dlrun
