// dlrun train: load and check everything, create (or reopen, with --resume) the run directory,
// train with logging, metrics.csv, early stopping and checkpoints, evaluate, write the summary.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>

#include "app/commands.hpp"
#include "app/config_loading.hpp"
#include "app/console.hpp"
#include "config/emit.hpp"
#include "core/threads.hpp"
#include "core/version.hpp"
#include "io/checkpoint_files.hpp"
#include "io/files.hpp"
#include "io/sha256.hpp"
#include "train/checkpointer.hpp"
#include "train/early_stopping.hpp"
#include "train/experiment.hpp"
#include "train/metrics_csv.hpp"
#include "train/trainer.hpp"

namespace dlrun::app {
namespace {

namespace fs = std::filesystem;

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

// A val_* monitor falls back to the training metric when there is no validation data (with a
// warning when the user asked for it: early stopping on training loss is rarely what they meant).
std::string resolve_monitor(std::string monitor, bool has_validation, bool warn = false) {
  if (!has_validation && monitor.starts_with("val_")) {
    if (warn)
      spdlog::warn("no validation data: early stopping monitors '{}' instead of '{}'", monitor.substr(4),
                   monitor);
    monitor = monitor.substr(4);
  }
  return monitor;
}

nlohmann::json provenance_of(const Config& config) {
  nlohmann::json data = nlohmann::json::object();
  auto add = [&](const DataSource& source) {
    for (const fs::path& file : source.files()) data[file.string()] = sha256_file_hex(file);
  };
  add(config.data.train);
  if (config.data.test) add(*config.data.test);
  if (config.data.validation.kind == ValidationSpec::Kind::source) add(config.data.validation.source);
  return {{"version", version_string()},
          {"seed", config.seed},
          {"threads", thread_count()},
          {"data_sha256", data}};
}

struct ResumePoint {
  fs::path run_dir;
  fs::path checkpoint;
};

ResumePoint locate_resume(const fs::path& target) {
  if (fs::is_directory(target)) {
    const auto newest = newest_checkpoint(target);
    if (!newest) throw DataError(target.string() + ": no readable checkpoint in this run directory");
    return {target, *newest};
  }
  if (!fs::exists(target)) throw DataError(target.string() + ": no such run directory or checkpoint");
  const fs::path parent = target.parent_path();
  if (parent.filename() == "checkpoints") return {parent.parent_path(), target};
  // Weights from elsewhere (PyTorch's, say) are the likely mistake here: point to --weights.
  if (!read_checkpoint(target).has_dlrun_state) {
    throw DataError(target.string() +
                    ": holds weights only, no training state; use --weights to start from it");
  }
  throw DataError(target.string() +
                  ": a checkpoint to resume must lie in a run directory's checkpoints/ folder");
}

}  // namespace

int run_train(const CommonOptions& common, const TrainOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  if (!options.resume.empty() && !options.weights.empty()) {
    throw ConfigError(
        "--resume and --weights exclude each other: --resume continues a run, --weights starts one");
  }
  Config config = load_config_with_flags(common);
  apply_threads(config);
  auto experiment = prepare_experiment(std::move(config));
  Experiment& e = *experiment;
  const Config& c = e.config;
  const std::string config_yaml = to_yaml(c.tree);

  // Everything is read and checked before the run directory exists (or, resuming, is touched).
  Trainer trainer(c, e.model, *e.optimizer, e.schedule.get(), *e.loss, e.data, e.task);
  std::optional<LoadedCheckpoint> resumed;
  fs::path run_dir;
  if (!options.resume.empty()) {
    const ResumePoint point = locate_resume(options.resume);
    resumed = read_checkpoint(point.checkpoint);
    if (!resumed->has_dlrun_state) {
      throw DataError(point.checkpoint.string() +
                      ": holds weights only, no training state; use --weights to start from it");
    }
    load_model_parameters(e.model, *resumed);
    load_optimizer_state(*e.optimizer, *resumed);
    try {
      trainer.restore_progress(resumed->state.progress);
    } catch (const DataError& error) {
      throw DataError(point.checkpoint.string() + ": " + error.what());
    }
    if (e.schedule) e.schedule->set_state(resumed->state.schedule);
    run_dir = open_run_directory_for_resume(point.run_dir);
    // Writes that a kill cut short leave temporaries behind; nothing else writes here now.
    remove_stale_temporaries(run_dir);
    remove_stale_temporaries(run_dir / kCheckpointsFolder);
  } else if (!options.weights.empty()) {
    load_model_parameters(e.model, read_checkpoint(options.weights));
  }
  if (run_dir.empty()) {
    run_dir =
        make_run_directory(c.output, c.name, common.out.empty() ? std::nullopt : std::optional(common.out));
  }
  add_log_file(run_dir / "log.txt");
  write_text_atomic(run_dir / "config.yaml", config_yaml);

  const bool has_validation = !e.data.validation.empty();
  ConsoleCallback console(common.jsonl, common.quiet);
  MetricsCsvWriter metrics_csv(run_dir / "metrics.csv", resumed ? resumed->state.train.epoch : 0);
  std::optional<EarlyStopping> early_stopping;
  if (c.train.early_stopping) {
    EarlyStoppingConfig early = *c.train.early_stopping;
    early.monitor = resolve_monitor(early.monitor, has_validation, true);
    early_stopping.emplace(early, e.model);
  }
  const nlohmann::json provenance = provenance_of(c);
  Checkpointer checkpointer(
      run_dir / "checkpoints", c.train.checkpoint,
      resolve_monitor(c.train.checkpoint.monitor, has_validation),
      Checkpointer::Sources{&e.model, e.optimizer.get(), e.schedule.get(),
                            early_stopping ? &*early_stopping : nullptr, &trainer, config_yaml, provenance});
  trainer.add_callback(console);
  trainer.add_callback(metrics_csv);
  if (early_stopping) trainer.add_callback(*early_stopping);
  trainer.add_callback(checkpointer);

  TrainState state;
  if (resumed) {
    state = resumed->state.train;
    state.stop_reason.clear();
    if (early_stopping) {
      early_stopping->set_state(resumed->state.early_stopping);
      early_stopping->restore_snapshot([&](const std::string& name) { return resumed->contents.find(name); });
    }
    checkpointer.set_state(resumed->state.checkpointer);
    spdlog::info("resuming {} from {} (epoch {}, step {})", run_dir.string(), resumed->path.string(),
                 state.epoch + (state.step_in_epoch > 0 ? 1 : 0), state.global_step);
  }
  Index parameter_count = 0;
  for (const auto& ref : e.model.trainable_parameters()) parameter_count += ref.parameter->value.size();
  spdlog::info("run {}: {} training examples, {} validation, {} test; {} parameters; {} threads",
               run_dir.string(), e.data.train.size(), e.data.validation.size(), e.data.test.size(),
               parameter_count, thread_count());

  install_stop_handlers();
  trainer.set_stop_flag(&stop_flag());
  nlohmann::json summary{{"command", "train"}, {"run_dir", run_dir.string()}};
  std::string status = "completed";
  int exit_code = 0;
  try {
    state = trainer.fit(std::move(state));
    if (state.stop_reason == "interrupted") {
      status = "interrupted";
      exit_code = 130;
      spdlog::warn("interrupted: checkpoint written to {}; continue with --resume {}",
                   checkpointer.last_path().string(), run_dir.string());
    } else if (early_stopping && early_stopping->stopped()) {
      status = "early_stopped";
      spdlog::info("{}", early_stopping->reason());
    }
  } catch (const DivergedError& error) {
    print_error(error.what());
    status = "diverged";
    exit_code = error.exit_code();
  } catch (const DlrunError& error) {
    // Leave a summary that says the run failed, so the directory never looks complete.
    summary["status"] = "failed";
    summary["error"] = error.what();
    try {
      write_run_summary(run_dir, summary.dump(2) + "\n");
    } catch (const DlrunError&) {
    }
    throw;
  }

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const Index epochs = static_cast<Index>(state.history.size());
  double epoch_seconds = 0.0;
  for (const EpochReport& report : state.history) epoch_seconds += report.seconds;
  const std::string monitor = early_stopping   ? c.train.early_stopping->monitor
                              : has_validation ? "val_loss"
                                               : "loss";
  summary["status"] = status;
  summary["epochs"] = epochs;
  // With early stopping, its best epoch (min_delta and start_from_epoch applied) is the one whose
  // parameters restore_best puts back and the summary's metrics then describe.
  summary["best_epoch"] = early_stopping && early_stopping->best_epoch() > 0
                              ? early_stopping->best_epoch()
                              : best_epoch_of(state, resolve_monitor(monitor, has_validation));
  if (!state.stop_reason.empty()) summary["stop_reason"] = state.stop_reason;
  summary["seconds"] = seconds;
  summary["seconds_per_epoch"] = epochs > 0 ? epoch_seconds / static_cast<double>(epochs) : 0.0;
  if (!state.history.empty()) {
    summary["train"] = metrics_json(state.history.back().train);
    if (!state.history.back().validation.empty())
      summary["validation"] = metrics_json(state.history.back().validation);
  }
  if (exit_code == 0) {
    const bool restored = early_stopping && early_stopping->stopped() && c.train.early_stopping->restore_best;
    if (restored && has_validation)
      summary["validation"] = metrics_json(trainer.evaluate(e.data.validation).values);
    if (!e.data.test.empty()) summary["test"] = metrics_json(trainer.evaluate(e.data.test).values);
  }
  summary["provenance"] = provenance;

  if (summary.contains("test")) {
    std::string text;
    for (const auto& [key, value] : summary["test"].items()) text += " " + key + "=" + value.dump();
    spdlog::info("test:{}", text);
  }
  spdlog::info("{} in {:.1f}s ({:.2f}s per epoch)", status, seconds,
               summary["seconds_per_epoch"].get<double>());
  write_run_summary(run_dir, summary.dump(2) + "\n");
  print_json_line(summary);
  remove_log_file();
  return exit_code;
}

}  // namespace dlrun::app
