// The evaluation a run report shows: the run's best checkpoint (else its last) on the test split,
// else validation, else train, with the confusion matrix and per-class scores for classification.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "train/evaluate.hpp"
#include "train/experiment.hpp"

namespace dlrun::report {

struct CheckpointEvaluation {
  std::filesystem::path checkpoint;
  std::string split;  // test | validation | train
  Index examples = 0;
  std::vector<std::string> class_names;  // empty unless classification
  Evaluation evaluation;
};

// checkpoints/best.safetensors, else checkpoints/last.safetensors; nullopt when neither exists.
std::optional<std::filesystem::path> report_checkpoint(const std::filesystem::path& run_dir);

// Loads `checkpoint` into the experiment's model and evaluates it (the model keeps the parameters).
// Throws DataError for a bad checkpoint.
CheckpointEvaluation evaluate_checkpoint(Experiment& experiment, const std::filesystem::path& checkpoint);

// The same for a finished run directory: its config.yaml (the resolved config) is loaded with its
// data. nullopt when the directory has no checkpoint.
std::optional<CheckpointEvaluation> evaluate_run_checkpoint(const std::filesystem::path& run_dir);

}  // namespace dlrun::report
