#include "e2e/e2e_support.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

namespace dlrun::testing {

nlohmann::json last_json_line(const std::string& out) {
  std::istringstream lines(out);
  std::string line;
  nlohmann::json last;
  while (std::getline(lines, line)) {
    if (line.starts_with("{")) last = nlohmann::json::parse(line, nullptr, false);
  }
  return last;
}

std::vector<std::string> csv_rows_without_seconds(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> rows;
  std::string line;
  while (std::getline(in, line)) rows.push_back(line.substr(0, line.rfind(',')));
  return rows;
}

std::vector<std::string> csv_rows_without_column(const std::filesystem::path& path,
                                                 const std::string& column) {
  std::ifstream in(path);
  std::vector<std::string> rows;
  std::size_t blank = 0;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> fields;
    std::stringstream fields_in(line);
    for (std::string field; std::getline(fields_in, field, ',');) fields.push_back(field);
    if (line.ends_with(",")) fields.emplace_back();
    if (rows.empty())
      blank = static_cast<std::size_t>(std::find(fields.begin(), fields.end(), column) - fields.begin());
    if (blank < fields.size()) fields[blank].clear();
    std::string row;
    for (const std::string& field : fields) row += field + ",";
    rows.push_back(row);
  }
  return rows;
}

std::vector<std::vector<double>> parse_raw_csv(const std::string& text) {
  std::istringstream lines(text);
  std::string line;
  std::getline(lines, line);  // header
  std::vector<std::vector<double>> rows;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string field;
    std::getline(fields, field, ',');  // index
    std::vector<double> row;
    while (std::getline(fields, field, ',')) row.push_back(std::stod(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string tiny_csv_data(const std::filesystem::path& csv) {
  return "data:\n"
         "  train: {format: csv, path: " +
         csv.string() +
         ", label: label}\n"
         "  validation: {split: 0.25}\n"
         "  normalize: standard\n";
}

std::string tiny_csv_config(const std::filesystem::path& csv, const std::string& extra) {
  return "seed: 5\n" + tiny_csv_data(csv) +
         "model:\n"
         "  layers:\n"
         "    - {type: dense, name: hidden, units: 8, activation: relu}\n"
         "    - {type: dropout, name: drop, rate: 0.1}\n"
         "    - {type: dense, name: out, units: 3, activation: softmax}\n"
         "loss: cross_entropy\n"
         "metrics: [accuracy]\n"
         "optimizer: {type: adam, lr: 0.01}\n" +
         extra;
}

std::filesystem::path write_blobs_csv(const TempDir& dir, int rows, const std::string& name) {
  std::ostringstream csv;
  csv << "a,b,c,d,label\n";
  for (int i = 0; i < rows; ++i) {
    const int cls = i % 3;
    // Deterministic, class-dependent points with some spread.
    const double t = std::sin(i * 12.9898) * 0.8;
    const double u = std::cos(i * 78.233) * 0.8;
    csv << cls * 2.0 + t << ',' << -cls + u << ',' << t * u << ',' << cls - t << ",class" << cls << '\n';
  }
  return dir.write(name, csv.str());
}

void check_one_error_line(const CommandResult& result, const std::string& expected_part) {
  CAPTURE(result.err);
  CHECK(result.err.starts_with("error: "));
  CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
  CHECK(result.err.find(expected_part) != std::string::npos);
}

}  // namespace dlrun::testing
