#include "data/temp_files.hpp"

namespace dlrun::testing {

std::string idx_bytes(const std::vector<std::uint32_t>& dims, const std::vector<std::uint8_t>& values,
                      std::uint8_t type) {
  std::string bytes{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (const std::uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes += static_cast<char>((d >> shift) & 0xff);
  }
  bytes.append(values.begin(), values.end());
  return bytes;
}

DataSource csv_source(const std::filesystem::path& path, std::string label, Location where) {
  DataSource source;
  source.format = "csv";
  source.path = path;
  source.label_column = std::move(label);
  source.where = std::move(where);
  return source;
}

}  // namespace dlrun::testing
