// Inputs of the data-reader tests: IDX bytes (malformed inputs are written at run time into a
// TempDir) and the DataSource of a CSV file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "support/temp_dir.hpp"

namespace dlrun::testing {

// The bytes of an IDX file: 0, 0, type, rank, big-endian dims, then `values`.
std::string idx_bytes(const std::vector<std::uint32_t>& dims, const std::vector<std::uint8_t>& values,
                      std::uint8_t type = 0x08);

// A `format: csv` source of `path` with `label` as its label column (none when empty), declared in
// the config at `where` (what error messages name).
DataSource csv_source(const std::filesystem::path& path, std::string label = "",
                      Location where = Location{"config.yaml", 4, 10});

}  // namespace dlrun::testing
