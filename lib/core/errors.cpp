#include "core/errors.hpp"

#include <algorithm>
#include <vector>

namespace dlrun {

std::string Location::to_string() const {
  std::string text = file;
  if (line > 0) {
    text.append(1, ':').append(std::to_string(line));
    if (column > 0) text.append(1, ':').append(std::to_string(column));
  }
  return text;
}

namespace {
std::string located(const Location& where, std::string_view message) {
  if (!where.known()) return std::string(message);
  return where.to_string() + ": " + std::string(message);
}
}  // namespace

ConfigError::ConfigError(const Location& where, std::string_view message)
    : DlrunError(located(where, message)), where_(where) {}

DataError::DataError(const Location& where, std::string_view message) : DlrunError(located(where, message)) {}

void require(bool condition, std::string_view message, std::source_location where) {
  if (condition) return;
  throw InternalError(std::string("internal error at ") + where.file_name() + ":" +
                      std::to_string(where.line()) + ": " + std::string(message));
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const std::size_t substitution = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitution});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace dlrun
