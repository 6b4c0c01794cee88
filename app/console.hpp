// Human output on stderr (spdlog; a progress bar when stderr is a terminal), the run's log.txt,
// and machine output on stdout (the summary JSON, --jsonl lines).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "train/callback.hpp"

namespace dlrun::app {

void setup_console(bool quiet);
// Ranks other than 0 of an MPI run: errors only (rank 0 speaks for the run).
void silence_console_but_errors();
// Also writes the log to `path` (the run directory's log.txt).
void add_log_file(const std::filesystem::path& path);
void remove_log_file();
// One line "error: <message>" on stderr, and in the log file when one is open.
void print_error(const std::string& message);

// Prints one JSON document as one line on stdout and flushes.
void print_json_line(const nlohmann::json& value);
nlohmann::json metrics_json(const MetricValues& values);

// Logs each epoch (and a progress bar on a terminal); with jsonl, prints each epoch on stdout.
class ConsoleCallback final : public Callback {
 public:
  ConsoleCallback(bool jsonl, bool quiet);
  void on_batch_end(const BatchReport& report, const TrainState& state) override;
  Verdict on_epoch_end(const EpochReport& report, TrainState& state) override;

 private:
  void clear_progress();
  bool jsonl_;
  bool progress_;
  bool progress_shown_ = false;
  double last_draw_ = -1.0;
};

}  // namespace dlrun::app
