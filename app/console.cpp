#include "app/console.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>

#include "train/run_training.hpp"

namespace dlrun::app {
namespace {

std::shared_ptr<spdlog::sinks::basic_file_sink_mt> log_file_sink;

std::string format_metrics(const MetricValues& values, const char* prefix) {
  std::string text;
  for (const auto& [name, value] : values) text += fmt::format(" {}{}={:.4f}", prefix, name, value);
  return text;
}

}  // namespace

void setup_console(bool quiet) {
  auto logger = std::make_shared<spdlog::logger>("dlrun", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_pattern("%H:%M:%S %v");
  logger->set_level(quiet ? spdlog::level::warn : spdlog::level::info);
  // A log line that cannot be written (log.txt on a full disk) is lost, never a second message or a
  // crash: the error that matters (a checkpoint not written, exit 5) is reported on its own.
  logger->set_error_handler([](const std::string&) {});
  spdlog::set_default_logger(logger);
}

void silence_console_but_errors() {
  spdlog::set_level(spdlog::level::err);
}

void add_log_file(const std::filesystem::path& path) {
  log_file_sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path.string());
  log_file_sink->set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v");
  log_file_sink->set_level(spdlog::level::info);
  spdlog::default_logger()->sinks().push_back(log_file_sink);
  // The logger's own level filters first; keep info for the file even when --quiet.
  spdlog::default_logger()->sinks().front()->set_level(spdlog::default_logger()->level());
  spdlog::default_logger()->set_level(spdlog::level::info);
}

void remove_log_file() {
  if (!log_file_sink) return;
  auto& sinks = spdlog::default_logger()->sinks();
  std::erase(sinks, log_file_sink);
  try {
    log_file_sink->flush();
  } catch (const std::exception&) {  // as in print_error: a log line lost, not a failed run
  }
  log_file_sink.reset();
}

void print_error(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  std::fflush(stderr);
  if (log_file_sink) {
    try {
      log_file_sink->log(spdlog::details::log_msg("dlrun", spdlog::level::err, "error: " + message));
      log_file_sink->flush();
    } catch (const std::exception&) {  // log.txt on a full disk: stderr has the line
    }
  }
}

void print_json_line(const nlohmann::json& value) {
  std::cout << value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
}

nlohmann::json metrics_json(const MetricValues& values) {
  return metric_values_json(values);
}

ConsoleCallback::ConsoleCallback(bool jsonl, bool quiet)
    : jsonl_(jsonl), progress_(!quiet && isatty(STDERR_FILENO) == 1) {}

void ConsoleCallback::clear_progress() {
  if (!progress_shown_) return;
  std::fprintf(stderr, "\r\033[K");
  progress_shown_ = false;
}

void ConsoleCallback::on_batch_end(const BatchReport& report, const TrainState& /*state*/) {
  if (!progress_) return;
  if (report.step != report.steps && report.seconds - last_draw_ < 0.1) return;  // ~10 redraws a second
  last_draw_ = report.seconds;
  const double eta =
      report.seconds / static_cast<double>(report.step) * static_cast<double>(report.steps - report.step);
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(kWidth * report.step / report.steps);
  std::fprintf(stderr, "\r\033[Kepoch %lld [%.*s%*s] %lld/%lld loss %.4f ETA %.0fs",
               static_cast<long long>(report.epoch), filled,
               "==============================", kWidth - filled, "", static_cast<long long>(report.step),
               static_cast<long long>(report.steps), report.loss, eta);
  progress_shown_ = true;
}

Verdict ConsoleCallback::on_epoch_end(const EpochReport& report, TrainState& /*state*/) {
  clear_progress();
  last_draw_ = -1.0;
  spdlog::info("epoch {}:{}{} lr={:.3g} {:.2f}s", report.epoch, format_metrics(report.train, ""),
               format_metrics(report.validation, "val_"), report.learning_rate, report.seconds);
  if (jsonl_) {
    nlohmann::json line{{"epoch", report.epoch}, {"train", metrics_json(report.train)}};
    if (!report.validation.empty()) line["validation"] = metrics_json(report.validation);
    line["lr"] = report.learning_rate;
    line["seconds"] = report.seconds;
    print_json_line(line);
  }
  return Verdict::keep_going;
}

}  // namespace dlrun::app
