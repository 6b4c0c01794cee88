#include "report/csv_table.hpp"

#include <charconv>
#include <cmath>

#include "core/errors.hpp"
#include "data/file_bytes.hpp"

namespace dlrun::report {
namespace {

// One record from `pos` to its line end (quoted fields may hold newlines); advances `pos`.
std::vector<std::string> next_record(const std::string& text, std::size_t& pos) {
  std::vector<std::string> cells;
  std::string cell;
  bool quoted = false;
  while (pos < text.size()) {
    const char c = text[pos++];
    if (quoted) {
      if (c == '"' && pos < text.size() && text[pos] == '"') {
        cell += '"';
        ++pos;
      } else if (c == '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      cells.push_back(std::move(cell));
      cell.clear();
    } else if (c == '\n') {
      break;
    } else if (c != '\r') {
      cell += c;
    }
  }
  cells.push_back(std::move(cell));
  return cells;
}

}  // namespace

std::optional<std::size_t> CsvTable::column(const std::string& name) const {
  for (std::size_t i = 0; i < columns.size(); ++i)
    if (columns[i] == name) return i;
  return std::nullopt;
}

std::optional<double> CsvTable::number(const std::string& cell) {
  double value = 0.0;
  const char* end = cell.data() + cell.size();
  const auto [stop, error] = std::from_chars(cell.data(), end, value);
  if (cell.empty() || error != std::errc() || stop != end || !std::isfinite(value)) return std::nullopt;
  return value;
}

CsvTable parse_csv_table(const std::string& text, const std::string& file) {
  CsvTable table;
  std::size_t pos = 0;
  int line = 1;
  if (text.empty()) throw DataError(Location{file, 1, 0}, "empty CSV file: no header row");
  table.columns = next_record(text, pos);
  while (pos < text.size()) {
    ++line;
    std::vector<std::string> cells = next_record(text, pos);
    if (cells.size() == 1 && cells.front().empty()) continue;  // blank line
    if (cells.size() != table.columns.size()) {
      throw DataError(Location{file, line, 0}, "expected " + std::to_string(table.columns.size()) +
                                                   " fields as in the header, found " +
                                                   std::to_string(cells.size()));
    }
    table.rows.push_back(std::move(cells));
  }
  return table;
}

CsvTable read_csv_table(const std::filesystem::path& path) {
  const FileBytes file = read_file_bytes(path, "CSV file");
  return parse_csv_table(std::string(file.bytes.begin(), file.bytes.end()), path.string());
}

}  // namespace dlrun::report
