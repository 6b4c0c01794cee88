#include "train/run_training.hpp"

#include <cmath>
#include <memory>

#include "compress/pruning_callbacks.hpp"
#include "config/emit.hpp"
#include "core/errors.hpp"
#include "core/threads.hpp"
#include "core/version.hpp"
#include "io/checkpoint_files.hpp"
#include "io/files.hpp"
#include "io/sha256.hpp"
#include "train/checkpoint_categories.hpp"
#include "train/checkpointer.hpp"
#include "train/early_stopping.hpp"
#include "train/metrics_csv.hpp"
#include "train/reproducibility.hpp"
#include "train/trainer.hpp"

namespace dlrun {
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
std::string resolve_monitor(std::string monitor, bool has_validation, std::vector<std::string>* warnings) {
  if (!has_validation && monitor.starts_with("val_")) {
    if (warnings) {
      warnings->push_back("no validation data: early stopping monitors '" + monitor.substr(4) +
                          "' instead of '" + monitor + "'");
    }
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
  nlohmann::json provenance = {{"version", version_string()}, {"seed", config.seed}, {"data_sha256", data}};
  provenance.update(numerics_provenance());  // threads and GEMM kernels: the determinism contract
  return provenance;
}

// The checkpoint to resume `target` (run_resume_directory's) from: the newest readable one of the
// run directory, or the checkpoint named.
fs::path resume_checkpoint(const fs::path& target) {
  if (!fs::is_directory(target)) return target;
  const auto newest = newest_checkpoint(target);
  if (!newest) throw DataError(target.string() + ": no readable checkpoint in this run directory");
  return *newest;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

fs::path run_resume_directory(const fs::path& target) {
  if (fs::is_directory(target)) return target;
  if (!fs::exists(target)) throw DataError(target.string() + ": no such run directory or checkpoint");
  const fs::path parent = target.parent_path();
  if (parent.filename() == "checkpoints") return parent.parent_path();
  // Weights from elsewhere (PyTorch's, say) are the likely mistake here: point to --weights.
  if (!read_checkpoint(target).has_dlrun_state) {
    throw DataError(target.string() +
                    ": holds weights only, no training state; use --weights to start from it");
  }
  throw DataError(target.string() +
                  ": a checkpoint to resume must lie in a run directory's checkpoints/ folder");
}

void check_run_output(const Config& config, const RunOptions& options) {
  if (!options.write_files) return;
  if (!options.resume.empty()) {
    check_run_directory_to_continue(run_resume_directory(options.resume));
  } else {
    check_new_run_directory(config.output, options.out.empty() ? std::nullopt : std::optional(options.out));
  }
}

nlohmann::json metric_values_json(const MetricValues& values) {
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [name, value] : values)
    object[name] = std::isfinite(value) ? nlohmann::json(value) : nlohmann::json();
  return object;
}

RunResult run_training(Experiment& e, const RunOptions& options) {
  const auto started = options.started.value_or(std::chrono::steady_clock::now());
  if (!options.resume.empty() && !options.weights.empty()) {
    throw ConfigError(
        "--resume and --weights exclude each other: --resume continues a run, --weights starts one");
  }
  require(!options.continue_from || !options.write_files,
          "run_training: continue_from is for runs without files");
  require(options.resume.empty() || options.write_files, "run_training: resume needs write_files");
  if (options.epochs) e.config.train.epochs = *options.epochs;
  const Config& c = e.config;
  SerialCommunicator alone;
  Communicator& ranks = options.communicator ? *options.communicator : alone;
  // Data-parallel, rank 0 alone writes (and logs); the other ranks train alike without files.
  const bool writes = options.write_files && ranks.is_root();
  const std::string config_yaml = options.write_files ? to_yaml(c.tree) : std::string();

  const std::optional<Vocabulary> vocabulary = Vocabulary::of(*e.data.train.dataset);

  // Everything is read and checked before the run directory exists (or, resuming, is touched).
  Trainer trainer(c, e.model, *e.optimizer, e.schedule.get(), *e.loss, e.data, e.task);
  if (ranks.distributed()) trainer.set_communicator(ranks);
  std::optional<LoadedCheckpoint> resumed;
  std::optional<LoadedCheckpoint> resumed_weights;
  RunResult result;
  RunStart start;
  RunDirectory directory;
  if (!options.resume.empty()) {
    const fs::path run_dir = run_resume_directory(options.resume);
    // Before anything of the run is read: a run still training there must not be joined.
    RunLock lock;
    if (writes) lock = RunLock(run_dir);
    const fs::path checkpoint = resume_checkpoint(options.resume);
    resumed = read_checkpoint(checkpoint);
    if (!resumed->has_dlrun_state) {
      throw DataError(checkpoint.string() +
                      ": holds weights only, no training state; use --weights to start from it");
    }
    check_checkpoint_vocabulary(*resumed, vocabulary);
    check_checkpoint_categories(*resumed, e.data.train.dataset->categories);
    load_model_parameters(e.model, *resumed);
    load_optimizer_state(*e.optimizer, *resumed);
    try {
      trainer.restore_progress(resumed->state.progress);
    } catch (const DataError& error) {
      throw DataError(checkpoint.string() + ": " + error.what());
    }
    if (e.schedule) e.schedule->set_state(resumed->state.schedule);
    if (auto warning = numerics_differ(resumed->state.provenance, checkpoint)) {
      start.warnings.push_back(std::move(*warning));
    }
    if (writes) {
      directory = open_run_directory_for_resume(run_dir, std::move(lock));
      // Writes that a kill cut short leave temporaries behind; nothing else writes here now.
      remove_stale_temporaries(directory.path);
      remove_stale_temporaries(directory.path / kCheckpointsFolder);
    }
  } else if (!options.weights.empty()) {
    resumed_weights = read_checkpoint(options.weights);
    check_checkpoint_vocabulary(*resumed_weights, vocabulary);
    check_checkpoint_categories(*resumed_weights, e.data.train.dataset->categories);
    load_model_parameters(e.model, *resumed_weights);
  }
  // Pruning: masks given, or restored from the checkpoint read, or made by the config's schedule.
  MaskSet* masks = options.masks;
  std::unique_ptr<MaskSet> own_masks;
  const LoadedCheckpoint* loaded = resumed ? &*resumed : resumed_weights ? &*resumed_weights : nullptr;
  if (masks == nullptr && (c.prune || (loaded && MaskSet::present_in(loaded->contents)))) {
    own_masks = std::make_unique<MaskSet>(e.model);
    if (loaded && MaskSet::present_in(loaded->contents)) own_masks->load(loaded->contents, loaded->path);
    masks = own_masks.get();
  }
  std::unique_ptr<MaskEnforcer> mask_enforcer;
  if (masks != nullptr) {
    mask_enforcer = c.prune && options.masks == nullptr
                        ? std::make_unique<GradualPruning>(*masks, *c.prune, trainer.steps_per_epoch())
                        : std::make_unique<MaskEnforcer>(*masks);
  }
  if (writes && !directory.lock.held()) {
    directory =
        make_run_directory(c.output, c.name, options.out.empty() ? std::nullopt : std::optional(options.out));
  }
  result.run_dir = directory.path;
  const fs::path& run_dir = result.run_dir;

  const bool has_validation = !e.data.validation.empty();
  std::unique_ptr<MetricsCsvWriter> metrics_csv;
  if (writes && options.metrics_csv) {
    metrics_csv =
        std::make_unique<MetricsCsvWriter>(run_dir / "metrics.csv", resumed ? resumed->state.train.epoch : 0);
  }
  std::optional<EarlyStopping> early_stopping;
  if (c.train.early_stopping) {
    EarlyStoppingConfig early = *c.train.early_stopping;
    early.monitor = resolve_monitor(early.monitor, has_validation, &start.warnings);
    early_stopping.emplace(early, e.model);
  }
  const nlohmann::json provenance = writes ? provenance_of(c) : nlohmann::json::object();
  std::unique_ptr<Checkpointer> checkpointer;
  if (writes && options.checkpoints) {
    checkpointer = std::make_unique<Checkpointer>(
        run_dir / "checkpoints", c.train.checkpoint,
        resolve_monitor(c.train.checkpoint.monitor, has_validation, nullptr),
        Checkpointer::Sources{
            &e.model, e.optimizer.get(), e.schedule.get(), early_stopping ? &*early_stopping : nullptr,
            &trainer, config_yaml, provenance, vocabulary.value_or(Vocabulary{}),
            masks ? masks->checkpoint_tensors() : std::vector<std::pair<std::string, const Tensor*>>{},
            masks ? masks->checkpoint_dtypes() : std::map<std::string, std::string>{},
            e.data.train.dataset->categories});
  }
  // First: pruned weights are zero before any other callback sees the parameters.
  if (mask_enforcer) trainer.add_callback(*mask_enforcer);
  if (ranks.is_root()) {
    for (Callback* callback : options.callbacks) trainer.add_callback(*callback);
  }
  if (metrics_csv) trainer.add_callback(*metrics_csv);
  if (early_stopping) trainer.add_callback(*early_stopping);
  if (checkpointer) trainer.add_callback(*checkpointer);

  TrainState state;
  if (options.continue_from) {
    state = *options.continue_from;
    state.stop_reason.clear();
  }
  if (resumed) {
    state = resumed->state.train;
    state.stop_reason.clear();
    if (early_stopping) {
      early_stopping->set_state(resumed->state.early_stopping);
      early_stopping->restore_snapshot([&](const std::string& name) { return resumed->contents.find(name); });
    }
    if (checkpointer) checkpointer->set_state(resumed->state.checkpointer);
    start.resumed_from = resumed->path;
    start.resumed_epoch = state.epoch + (state.step_in_epoch > 0 ? 1 : 0);
    start.resumed_step = state.global_step;
  }
  start.run_dir = run_dir;
  // Text: the entropy of the training text's characters is what a model that ignores context
  // reaches; the summary's bits per character show how far below it the model gets.
  if (vocabulary) {
    start.vocabulary_size = vocabulary->size();
    start.unigram_bits = unigram_entropy_bits(*e.data.train.dataset, e.data.train.rows);
  }
  for (const auto& ref : e.model.trainable_parameters()) start.parameter_count += ref.parameter->value.size();
  if (options.on_start && ranks.is_root()) options.on_start(start);
  if (writes) write_text_atomic(run_dir / "config.yaml", config_yaml);

  trainer.set_stop_flag(options.stop_flag);
  nlohmann::json& summary = result.summary;
  summary = {{"command", "train"}};
  if (writes) summary["run_dir"] = run_dir.string();
  bool failed = false;
  try {
    state = trainer.fit(std::move(state));
    if (state.stop_reason == "interrupted") {
      result.status = "interrupted";
      if (checkpointer) result.last_checkpoint = checkpointer->last_path();
    } else if (early_stopping && early_stopping->stopped()) {
      result.status = "early_stopped";
      result.early_stopping_reason = early_stopping->reason();
    }
  } catch (const DivergedError& error) {
    result.status = "diverged";
    result.error = error.what();
    failed = true;
  } catch (const DlrunError& error) {
    // Leave a summary that says the run failed, so the directory never looks complete.
    if (writes) {
      summary["status"] = "failed";
      summary["error"] = error.what();
      try {
        write_run_summary(run_dir, summary.dump(2) + "\n");
      } catch (const DlrunError&) {
      }
    }
    throw;
  }

  result.seconds = seconds_since(started);
  result.epochs = static_cast<Index>(state.history.size());
  double epoch_seconds = 0.0;
  for (const EpochReport& report : state.history) epoch_seconds += report.seconds;
  result.seconds_per_epoch = result.epochs > 0 ? epoch_seconds / static_cast<double>(result.epochs) : 0.0;
  const std::string monitor = early_stopping   ? c.train.early_stopping->monitor
                              : has_validation ? "val_loss"
                                               : "loss";
  // With early stopping, its best epoch (min_delta and start_from_epoch applied) is the one whose
  // parameters restore_best puts back and the summary's metrics then describe.
  result.best_epoch = early_stopping && early_stopping->best_epoch() > 0
                          ? early_stopping->best_epoch()
                          : best_epoch_of(state, resolve_monitor(monitor, has_validation, nullptr));
  if (!state.history.empty()) {
    result.train = state.history.back().train;
    result.validation = state.history.back().validation;
  }
  const bool interrupted = result.status == "interrupted";
  double test_seconds = 0.0;
  if (!failed && !interrupted) {
    const bool restored = early_stopping && early_stopping->stopped() && c.train.early_stopping->restore_best;
    if (restored && has_validation) result.validation = trainer.evaluate(e.data.validation).values;
    if (options.evaluate_test && !e.data.test.empty()) {
      const auto test_started = std::chrono::steady_clock::now();
      result.test = trainer.evaluate(e.data.test).values;
      test_seconds = seconds_since(test_started);
    }
  }

  summary["status"] = result.status;
  summary["epochs"] = result.epochs;
  summary["best_epoch"] = result.best_epoch;
  if (!state.stop_reason.empty()) summary["stop_reason"] = state.stop_reason;
  summary["seconds"] = result.seconds;
  summary["seconds_per_epoch"] = result.seconds_per_epoch;
  if (!state.history.empty()) summary["train"] = metric_values_json(result.train);
  if (!result.validation.empty()) summary["validation"] = metric_values_json(result.validation);
  if (!result.test.empty()) {
    summary["test"] = metric_values_json(result.test);
    summary["test_seconds"] = test_seconds;  // scripts/bench's inference rate
  }
  if (vocabulary) {
    nlohmann::json bits{{"unigram_baseline", start.unigram_bits}};
    for (const auto& [split, values] :
         {std::pair{"train", &result.train}, std::pair{"validation", &result.validation},
          std::pair{"test", &result.test}}) {
      const double loss = values->empty() ? std::nan("") : metric_value(*values, "loss");
      if (std::isfinite(loss)) bits[split] = nats_to_bits(loss);
    }
    summary["bits_per_char"] = bits;
  }
  if (writes) summary["provenance"] = provenance;
  result.history = state.history;
  result.state = std::move(state);
  if (writes) write_run_summary(run_dir, summary.dump(2) + "\n");
  return result;
}

}  // namespace dlrun
