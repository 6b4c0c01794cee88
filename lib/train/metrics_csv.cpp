#include "train/metrics_csv.hpp"

#include <vector>

#include "core/errors.hpp"
#include "core/options.hpp"
#include "io/files.hpp"

namespace dlrun {
namespace {}  // namespace

std::string metrics_csv_header(const EpochReport& report) {
  std::string header = "epoch";
  for (const auto& [name, value] : report.train) header += "," + name;
  for (const auto& [name, value] : report.validation) header += ",val_" + name;
  return header + ",lr,seconds";
}

std::string metrics_csv_row(const EpochReport& report) {
  std::string row = std::to_string(report.epoch);
  for (const auto& [name, value] : report.train) row += "," + format_number(value);
  for (const auto& [name, value] : report.validation) row += "," + format_number(value);
  return row + "," + format_number(report.learning_rate) + "," + format_number(report.seconds);
}

MetricsCsvWriter::MetricsCsvWriter(std::filesystem::path path, Index resumed_epochs)
    : path_(std::move(path)) {
  std::string kept;
  if (resumed_epochs > 0) {
    // Rows of epochs after the checkpoint were written by the interrupted run and are redone.
    std::ifstream in(path_);
    std::string line;
    for (Index i = 0; std::getline(in, line) && i <= resumed_epochs; ++i) kept += line + '\n';
  }
  // Replaced atomically: a kill between truncating and rewriting would lose the earlier rows.
  write_text_atomic(path_, kept);
  out_.open(path_, std::ios::app);
  if (!out_) throw OutputError(path_.string() + ": cannot write metrics");
  header_written_ = !kept.empty();
}

Verdict MetricsCsvWriter::on_epoch_end(const EpochReport& report, TrainState& /*state*/) {
  if (!header_written_) {
    out_ << metrics_csv_header(report) << '\n';
    header_written_ = true;
  }
  out_ << metrics_csv_row(report) << '\n';
  out_.flush();
  if (!out_) throw OutputError(path_.string() + ": write failed");
  return Verdict::keep_going;
}

}  // namespace dlrun
