// Checkpoints (DESIGN.md §5): the model's parameters under PyTorch's names, the optimizer state as
// `optim.<param>.<slot>`, and in `__metadata__` everything an exact resume needs: format, resolved
// config, epoch and step, history, schedule / early-stopping / checkpointer state, the partial
// epoch's metric sums, and provenance (version, seed, threads, SHA-256 of the data files).
// The data order and dropout masks derive from (seed, epoch, step), so no RNG state is needed.
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "data/categorical.hpp"
#include "data/vocabulary.hpp"
#include "io/safetensors.hpp"
#include "model/model.hpp"
#include "optim/optimizer.hpp"
#include "train/callback.hpp"

namespace dlrun {

inline constexpr std::string_view kCheckpointFormat = "dlrun-checkpoint-1";
// The `format` of an int8 quantized model (dlrun quantize; lib/compress/quantized_checkpoint.hpp):
// eval and predict run it, and load_model_parameters refuses it.
inline constexpr std::string_view kQuantizedCheckpointFormat = "dlrun-int8-1";

// Everything besides tensors that a checkpoint records.
struct CheckpointState {
  TrainState train;
  nlohmann::json progress = nlohmann::json::object();  // the trainer's partial-epoch sums
  std::map<std::string, double> schedule;
  std::map<std::string, double> early_stopping;
  std::map<std::string, double> checkpointer;
  std::map<std::string, double> optimizer_scalars;
  std::string optimizer_type;
  std::string config_yaml;
  nlohmann::json provenance = nlohmann::json::object();
  // Text data: the characters in token-id order, stored as the metadata key `vocabulary`, a JSON
  // list of byte values ("[10,32,33,...]"); empty (and absent from the file) for other data.
  Vocabulary vocabulary;
  // CSV data with data.categorical: the categories learnt from the training rows, as the metadata
  // key `categories` (checkpoint_categories.hpp); empty (and absent) otherwise.
  std::vector<CategoricalColumn> categories;
};

nlohmann::json train_state_to_json(const TrainState& state);
TrainState train_state_from_json(const nlohmann::json& value);

// Writes atomically (temporary, fsync, rename); throws OutputError. `extra` tensors are added
// under their own names (the early-stopping snapshot, pruning masks), as F32 or as `dtypes` says.
void save_checkpoint(const std::filesystem::path& path, Model& model, Optimizer* optimizer,
                     const CheckpointState& state,
                     const std::vector<std::pair<std::string, const Tensor*>>& extra = {},
                     const std::map<std::string, std::string>& dtypes = {});

struct LoadedCheckpoint {
  std::filesystem::path path;
  SafetensorsContents contents;
  bool has_dlrun_state = false;  // false for weights written by PyTorch (or anything else)
  CheckpointState state;         // valid when has_dlrun_state
};

// Reads and validates a checkpoint file (DataError, exit 3, for anything malformed).
LoadedCheckpoint read_checkpoint(const std::filesystem::path& path);

// Text data: the checkpoint's vocabulary must be the one `train_vocabulary` (derived from the
// config's training text) gives, or token ids would mean other characters than in training.
// DataError when they differ, or when the checkpoint of a text model lacks a vocabulary. A
// checkpoint of plain weights (has_dlrun_state false) is not checked. Does nothing for other data.
void check_checkpoint_vocabulary(const LoadedCheckpoint& checkpoint,
                                 const std::optional<Vocabulary>& train_vocabulary);

// Copies every model parameter (buffers included) from the checkpoint; each must be present with
// the model's shape: "checkpoint x: fc1.weight has shape [..], the model expects [..]" (DataError).
void load_model_parameters(Model& model, const LoadedCheckpoint& checkpoint);
// Copies the optimizer's state tensors and scalars; DataError when the optimizer type differs or a
// tensor is missing or misshapen.
void load_optimizer_state(Optimizer& optimizer, const LoadedCheckpoint& checkpoint);

}  // namespace dlrun
