// Comparing checkpoints written by separate runs: every tensor (parameters, optimizer state, the
// early-stopping snapshot), byte for byte; metadata (timings, paths) is left out.
#pragma once

#include <filesystem>
#include <map>
#include <string>

namespace dlrun::testing {

// Tensor name -> its float32 values as raw bytes; read through read_safetensors.
std::map<std::string, std::string> tensor_bytes(const std::filesystem::path& checkpoint);

// doctest CHECKs that both files hold the same tensor names with byte-identical values; returns
// true when they do.
bool check_same_tensors(const std::filesystem::path& expected, const std::filesystem::path& actual);

}  // namespace dlrun::testing
