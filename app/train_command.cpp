// dlrun train: load and check everything, create the run directory, train, evaluate, summarise.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>

#include "app/commands.hpp"
#include "app/config_loading.hpp"
#include "app/console.hpp"
#include "config/emit.hpp"
#include "core/threads.hpp"
#include "io/files.hpp"
#include "train/early_stopping.hpp"
#include "train/experiment.hpp"
#include "train/metrics_csv.hpp"
#include "train/trainer.hpp"

namespace dlrun::app {
namespace {

// The epoch whose monitored value was best (1-based; 0 without history).
Index best_epoch_of(const TrainState& state, const std::string& monitor) {
  Index best = 0;
  double best_value = 0.0;
  const bool maximize = metric_is_maximized(monitor);
  for (const EpochReport& report : state.history) {
    const double value = report.metric(monitor);
    if (std::isnan(value)) continue;
    if (best == 0 || (maximize ? value > best_value : value < best_value)) {
      best = report.epoch;
      best_value = value;
    }
  }
  return best;
}

}  // namespace

int run_train(const CommonOptions& common, const TrainOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  Config config = load_config_with_flags(common);
  apply_threads(config);
  auto experiment = prepare_experiment(std::move(config));
  Experiment& e = *experiment;
  const Config& c = e.config;

  const auto run_dir = make_run_directory(c.output, c.name,
                                          common.out.empty() ? std::nullopt : std::optional(common.out));
  add_log_file(run_dir / "log.txt");
  write_text_atomic(run_dir / "config.yaml", to_yaml(c.tree));
  spdlog::info("run {}: {} training examples, {} validation, {} test; {} parameters; {} threads", run_dir.string(),
               e.data.train.size(), e.data.validation.size(), e.data.test.size(),
               [&] {
                 Index count = 0;
                 for (const auto& ref : e.model.trainable_parameters()) count += ref.parameter->value.size();
                 return count;
               }(),
               thread_count());
  (void)options;

  Trainer trainer(c, e.model, *e.optimizer, e.schedule.get(), *e.loss, e.data, e.task);
  ConsoleCallback console(common.jsonl, common.quiet);
  MetricsCsvWriter metrics_csv(run_dir / "metrics.csv");
  std::optional<EarlyStopping> early_stopping;
  trainer.add_callback(console);
  trainer.add_callback(metrics_csv);
  if (c.train.early_stopping) {
    early_stopping.emplace(*c.train.early_stopping, e.model);
    trainer.add_callback(*early_stopping);
  }
  trainer.set_stop_flag(&stop_flag());

  nlohmann::json summary{{"command", "train"}, {"run_dir", run_dir.string()}};
  std::string status = "completed";
  int exit_code = 0;
  TrainState state;
  try {
    state = trainer.fit(TrainState{});
    if (state.stop_reason == "interrupted") {
      status = "interrupted";
      exit_code = 130;
    } else if (early_stopping && early_stopping->stopped()) {
      status = "early_stopped";
    }
  } catch (const DivergedError& error) {
    print_error(error.what());
    status = "diverged";
    exit_code = error.exit_code();
  }

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const Index epochs = static_cast<Index>(state.history.size());
  double epoch_seconds = 0.0;
  for (const EpochReport& report : state.history) epoch_seconds += report.seconds;
  const std::string monitor = c.train.early_stopping ? c.train.early_stopping->monitor
                              : e.data.validation.empty() ? "loss"
                                                          : "val_loss";
  summary["status"] = status;
  summary["epochs"] = epochs;
  summary["best_epoch"] = best_epoch_of(state, monitor);
  summary["monitor"] = monitor;
  if (!state.stop_reason.empty()) summary["stop_reason"] = state.stop_reason;
  summary["seconds"] = seconds;
  summary["seconds_per_epoch"] = epochs > 0 ? epoch_seconds / static_cast<double>(epochs) : 0.0;
  if (!state.history.empty()) {
    summary["train"] = metrics_json(state.history.back().train);
    if (!state.history.back().validation.empty()) {
      summary["validation"] = metrics_json(state.history.back().validation);
    }
  }
  if (exit_code == 0) {
    const bool restored = early_stopping && early_stopping->stopped() && c.train.early_stopping->restore_best;
    if (restored && !e.data.validation.empty()) {
      summary["validation"] = metrics_json(trainer.evaluate(e.data.validation).values);
    }
    if (!e.data.test.empty()) summary["test"] = metrics_json(trainer.evaluate(e.data.test).values);
  }
  summary["seed"] = c.seed;
  summary["threads"] = thread_count();
  summary["version"] = std::string(DLRUN_VERSION) + "+" + DLRUN_GIT_REVISION;

  if (summary.contains("test")) {
    spdlog::info("test:{}", [&] {
      std::string text;
      for (const auto& [key, value] : summary["test"].items()) text += " " + key + "=" + value.dump();
      return text;
    }());
  }
  spdlog::info("{} in {:.1f}s ({:.2f}s per epoch)", status, seconds, summary["seconds_per_epoch"].get<double>());
  write_text_atomic(run_dir / "summary.json", summary.dump(2) + "\n");
  print_json_line(summary);
  remove_log_file();
  return exit_code;
}

}  // namespace dlrun::app
