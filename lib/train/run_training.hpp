// One training run from start to end, as `dlrun train`, `dlrun cv` (each fold) and `dlrun search`
// (each trial) do it: optionally the run directory (config.yaml, metrics.csv, checkpoints/,
// summary.json), resume or initial weights, early stopping, the final evaluation and the summary.
// The caller wires in what belongs to the command line (console output, log file, signals).
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "compress/pruning.hpp"
#include "dist/communicator.hpp"
#include "train/callback.hpp"
#include "train/experiment.hpp"

namespace dlrun {

// What the run is about to do, for the caller's log once the run directory exists.
struct RunStart {
  std::filesystem::path run_dir;  // empty without files
  std::filesystem::path resumed_from;
  Index resumed_epoch = 0;  // as run_training logs it: the epoch in progress (1-based) when resuming
  Index resumed_step = 0;   // global step
  Index parameter_count = 0;
  std::vector<std::string> warnings;  // e.g. early stopping falls back to a training metric
  // Text data: the vocabulary's size and the unigram baseline, the entropy of the training
  // windows' characters in bits per character (0 for other data).
  Index vocabulary_size = 0;
  double unigram_bits = 0.0;
};

struct RunOptions {
  // false: no run directory and no files at all (cv folds, search trials): nothing is written.
  bool write_files = true;
  // The run directory (--out); empty: <output>/<name>-<YYYYmmdd-HHMMSS>. With write_files only.
  std::filesystem::path out;
  // With write_files: numbered/last/best checkpoints in checkpoints/ and metrics.csv.
  bool checkpoints = true;
  bool metrics_csv = true;
  // Continue an interrupted run (a run directory or a checkpoint in one; --resume).
  std::filesystem::path resume;
  // Initialise the parameters from a checkpoint (--weights).
  std::filesystem::path weights;
  // Called once the run directory exists (with write_files) or before training (without), before
  // anything is trained: where the caller opens its log file and logs RunStart.
  std::function<void(const RunStart&)> on_start;
  // Called before the run's own callbacks (metrics.csv, early stopping, checkpoints), in order.
  std::vector<Callback*> callbacks;
  // When set and raised, the run finishes its batch and ends with status "interrupted".
  const std::atomic<bool>* stop_flag = nullptr;
  // Train until this many epochs in total instead of config.train.epochs (it replaces the
  // experiment's config value: a later call continues from there).
  std::optional<Index> epochs;
  // Continue in process from the state a previous run_training on the SAME experiment returned
  // (RunResult::state): the model and optimizer carry on where they stopped, and training goes on
  // to `epochs` (successive halving / Hyperband); the result equals one run of that many epochs
  // (tests/train/test_run_training.cpp). Early stopping starts afresh; a schedule keeps the epochs
  // prepare_experiment sized it for. Without files only.
  std::optional<TrainState> continue_from;
  // Pruned weights to hold at zero (`dlrun prune`'s fine-tuning; the model's own mask set). Without
  // it, masks come from the checkpoint resumed or the --weights, when it holds any, or from the
  // config's `prune:` schedule; every checkpoint written stores them.
  MaskSet* masks = nullptr;
  // Evaluate the test split at the end (when the data has one and training did not fail).
  bool evaluate_test = true;
  // Data-parallel training over these ranks (`mpirun -np N dlrun train`, docs/scaling.md): every
  // rank calls run_training alike and trains its share of each batch; rank 0 alone writes the run
  // directory, and calls `on_start` and `callbacks` (the others run early stopping only, which all
  // ranks decide alike). Resuming, every rank reads the checkpoint. Null: one process.
  Communicator* communicator = nullptr;
  // When the run began, for the summary's seconds (default: when run_training is called); `dlrun
  // train` counts loading the config and data too.
  std::optional<std::chrono::steady_clock::time_point> started;
};

struct RunResult {
  // completed | early_stopped | interrupted | diverged
  std::string status = "completed";
  std::string error;  // the divergence message, when diverged
  std::filesystem::path run_dir;
  std::filesystem::path last_checkpoint;  // the checkpoint written last (interrupted runs)
  std::string early_stopping_reason;      // when early_stopped
  Index epochs = 0;                       // epochs trained in total
  Index best_epoch = 0;                   // 1-based; 0 without history
  double seconds = 0.0;                   // wall time of this call
  double seconds_per_epoch = 0.0;
  std::vector<EpochReport> history;
  TrainState state;  // pass back as RunOptions::continue_from to train on
  // The final metrics: train of the last epoch; validation of the last epoch, or of the restored
  // best epoch; test at the end. Empty when the split is absent or was not evaluated.
  MetricValues train;
  MetricValues validation;
  MetricValues test;
  // The summary JSON of DESIGN.md §4 (command "train"), as summary.json holds it. For text data it
  // adds "bits_per_char": {"unigram_baseline", and "train", "validation", "test" as evaluated}: the
  // losses in bits per character (loss / ln 2).
  nlohmann::json summary;
};

// The run directory --resume names: the folder itself, or the run directory of a checkpoint in its
// checkpoints/ folder. Throws DataError for anything else (a missing path, weights without
// training state, a checkpoint outside a run directory).
std::filesystem::path run_resume_directory(const std::filesystem::path& target);

// The checks run_training makes on its output before it trains, made early (before the data is
// loaded) so that a run that cannot write fails at once: the run directory to resume is a
// writable folder no other process is running in; a new one can be created (options.out new or
// empty, and its lock free; the folders on the way writable). Creates nothing; the run still
// claims its directory itself. No-op without write_files. Throws OutputError (DataError for a
// --resume target that is not a run).
void check_run_output(const Config& config, const RunOptions& options);

// Runs the experiment (prepare_experiment, or one whose data the caller replaced per fold) as
// options say. Reads and checks everything (resume checkpoint, weights) before the run directory
// is created or touched (the lock of a run directory to resume is taken before it is read). The
// run directory stays locked (io/run_lock.hpp) until this returns. A run that fails with a DlrunError leaves
// summary.json with status "failed" and rethrows; divergence is a result (status "diverged"), not an
// exception.
RunResult run_training(Experiment& experiment, const RunOptions& options);

// The summary JSON's metric object: NaN and infinities become null.
nlohmann::json metric_values_json(const MetricValues& values);

}  // namespace dlrun
