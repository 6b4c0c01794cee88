// The small CSV files of run, cv and search directories (metrics.csv, folds.csv, trials.csv) read
// as a table of text cells by column name, for the report. Quoted fields ("a,b", "" escapes) are
// understood, as lib/select writes them.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace dlrun::report {

struct CsvTable {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;  // each as long as columns

  // The column's index, or nullopt.
  std::optional<std::size_t> column(const std::string& name) const;
  // A cell as a number; nullopt when empty or not a number (nan, text).
  static std::optional<double> number(const std::string& cell);
};

// Parses CSV text. A row whose cell count differs from the header's is a DataError naming `file`
// and the line.
CsvTable parse_csv_table(const std::string& text, const std::string& file);
// Reads and parses a file; DataError when it cannot be read.
CsvTable read_csv_table(const std::filesystem::path& path);

}  // namespace dlrun::report
