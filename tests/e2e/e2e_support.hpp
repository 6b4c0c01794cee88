// Shared pieces of the end-to-end tests: configs on tiny data and reading run directories.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace dlrun::testing {

// The last line of stdout that parses as a JSON object (the summary).
nlohmann::json last_json_line(const std::string& out);
// Rows of a CSV file without its last column (the timing), for determinism comparisons.
std::vector<std::string> csv_rows_without_seconds(const std::filesystem::path& path);
// Rows of a CSV file (header included) with the named column emptied (a timing), for comparing
// outputs that must match but for the time they took. Fields are split at every comma.
std::vector<std::string> csv_rows_without_column(const std::filesystem::path& path,
                                                 const std::string& column);
// `predict --raw` CSV (index,y0,y1,...) -> one row of values per example.
std::vector<std::vector<double>> parse_raw_csv(const std::string& text);
// The `data:` section of tiny_csv_config: the CSV's `label` column, a 25% validation split, features
// standardised.
std::string tiny_csv_data(const std::filesystem::path& csv);
// A config for a small MLP on a CSV file, with extra YAML appended at top level.
std::string tiny_csv_config(const std::filesystem::path& csv, const std::string& extra = "");
// A grid search over tiny_csv_config's model: 8 points (lr x hidden units x optimizer type).
inline constexpr const char* kTinyGridSearch =
    "search:\n"
    "  strategy: grid\n"
    "  metric: val_accuracy\n"
    "  space:\n"
    "    optimizer.lr: {loguniform: [1.0e-4, 1.0], grid: [0.003, 0.03]}\n"
    "    model.layers.hidden.units: {choice: [4, 8]}\n"
    "    optimizer.type: {choice: [adam, sgd]}\n";
// Checks (doctest CHECKs) that a failed command wrote exactly one line on stderr, starting with
// "error: " and containing `expected_part`.
void check_one_error_line(const CommandResult& result, const std::string& expected_part);
// Writes a 3-class, 4-feature CSV with `rows` rows that a small MLP separates well.
std::filesystem::path write_blobs_csv(const TempDir& dir, int rows, const std::string& name = "blobs.csv");

inline std::filesystem::path source_path(const std::string& relative) {
  return std::filesystem::path(DLRUN_SOURCE_DIR) / relative;
}

}  // namespace dlrun::testing
