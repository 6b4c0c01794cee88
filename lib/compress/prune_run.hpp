// `dlrun prune` without its command line: prune a trained model by magnitude, fine-tune it with
// the masks held fixed (a run directory like `dlrun train`'s, whose checkpoints carry the masks),
// and write the pruned model, measuring the model before pruning, right after, and after fine-tuning.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "compress/measure.hpp"
#include "compress/pruning.hpp"
#include "train/experiment.hpp"
#include "train/run_training.hpp"

namespace dlrun {

inline constexpr std::string_view kPrunedCheckpointName = "pruned.safetensors";

struct PruneRunOptions {
  std::filesystem::path checkpoint;  // the trained model (a dlrun checkpoint or plain weights)
  double sparsity = 0.5;             // in [0, 1)
  PruneScope scope = PruneScope::global;
  Index finetune_epochs = 2;  // 0: prune only
  // Passed on to run_training for the fine-tuning (run directory, console callback, stop flag).
  RunOptions run;
};

struct PruneRunResult {
  ReportSplit split;
  ModelFigures before;  // the checkpoint as given
  ModelFigures pruned;  // right after pruning
  ModelFigures after;   // after fine-tuning: the model written to pruned_checkpoint
  std::vector<WeightSparsity> sparsity;
  RunResult finetune;
  std::filesystem::path pruned_checkpoint;  // <run_dir>/pruned.safetensors
  nlohmann::json summary;                   // command "prune"
};

// Loads the checkpoint into e.model (DataError for anything but a checkpoint that fits), prunes,
// fine-tunes and writes <run_dir>/pruned.safetensors: the weights, their masks, no optimizer
// state. An interrupted or diverged fine-tuning writes no pruned.safetensors (status says which).
PruneRunResult prune_and_finetune(Experiment& e, PruneRunOptions options);

}  // namespace dlrun
