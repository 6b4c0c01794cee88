// IDX bytes for data-reader tests (malformed inputs are written at run time into a TempDir).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "support/temp_dir.hpp"

namespace dlrun::testing {

// The bytes of an IDX file: 0, 0, type, rank, big-endian dims, then `values`.
std::string idx_bytes(const std::vector<std::uint32_t>& dims, const std::vector<std::uint8_t>& values,
                      std::uint8_t type = 0x08);

}  // namespace dlrun::testing
