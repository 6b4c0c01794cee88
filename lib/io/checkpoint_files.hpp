// Checkpoint file names and retention inside a run's checkpoints/ folder (DESIGN.md §4, §5).
// This is only the file layer: what goes into a checkpoint is the trainer's business.
//
// Names: `epoch-NNNN.safetensors` (at least 4 digits, more when needed) after an epoch,
// `step-NNNNNNNN.safetensors` (at least 8 digits) for every_steps checkpoints, `last.safetensors`
// (rewritten at every checkpoint) and `best.safetensors` (the best monitored value so far).
// Only the numbered ones are pruned; last and best are never removed here.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.hpp"

namespace dlrun {

inline constexpr std::string_view kLastCheckpointName = "last.safetensors";
inline constexpr std::string_view kBestCheckpointName = "best.safetensors";

enum class CheckpointKind { epoch, step };

std::string epoch_checkpoint_name(Index epoch);  // epoch-0007.safetensors
std::string step_checkpoint_name(Index step);    // step-00001200.safetensors

struct NumberedCheckpoint {
  std::filesystem::path path;
  CheckpointKind kind = CheckpointKind::epoch;
  Index number = 0;
};

// The numbered checkpoints in `checkpoints_dir`, epochs first, each kind in increasing number.
// Other files (last, best, temporaries) are ignored; a missing folder gives an empty list.
std::vector<NumberedCheckpoint> list_numbered_checkpoints(const std::filesystem::path& checkpoints_dir);

// Keeps the `keep` highest-numbered checkpoints of each kind (epoch and step numbers are not
// comparable, so each kind is pruned on its own) and removes the older ones; keep <= 0 keeps all.
// Throws OutputError when a file cannot be removed.
void prune_checkpoints(const std::filesystem::path& checkpoints_dir, Index keep);

// The checkpoint a resume of `run_dir` should load: `checkpoints/last.safetensors` when it reads
// back valid (read_safetensors succeeds); otherwise the newest numbered one that does (within a
// kind by number; between the newest valid epoch and step ones, the later modified, a tie going to
// the step one); nullopt when none is valid. A corrupt file (say, truncated by a full disk on a
// filesystem that lost the rename's atomicity) is skipped, never thrown.
std::optional<std::filesystem::path> newest_checkpoint(const std::filesystem::path& run_dir);

}  // namespace dlrun
