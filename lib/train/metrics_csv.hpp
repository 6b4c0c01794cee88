// Writes metrics.csv in the run directory: one row per epoch (epoch, train loss and metrics,
// validation loss and metrics, lr, seconds), flushed as each epoch ends.
#pragma once

#include <filesystem>
#include <fstream>

#include "train/callback.hpp"

namespace dlrun {

class MetricsCsvWriter final : public Callback {
 public:
  // `resume`: keep the rows of epochs <= resumed_epochs and append after them.
  MetricsCsvWriter(std::filesystem::path path, Index resumed_epochs = 0);
  Verdict on_epoch_end(const EpochReport& report, TrainState& state) override;

 private:
  std::filesystem::path path_;
  std::ofstream out_;
  bool header_written_ = false;
};

// The CSV header for a report, and one row.
std::string metrics_csv_header(const EpochReport& report);
std::string metrics_csv_row(const EpochReport& report);

}  // namespace dlrun
