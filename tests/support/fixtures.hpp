// Reading the committed golden fixtures (JSON written by scripts/fixtures/*.py with Debian's
// python3-torch). Tensors are stored as {"shape": [...], "data": [... flat, row-major ...]}.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "core/tensor.hpp"

namespace dlrun::testing {

// tests/data/<relative_path>
std::filesystem::path test_data_path(const std::string& relative_path);
// Parses tests/data/<relative_path>; throws std::runtime_error naming the file when missing.
nlohmann::json load_fixture(const std::string& relative_path);
Tensor tensor_from_json(const nlohmann::json& value);

}  // namespace dlrun::testing
