#include "io/checkpoint_files.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <system_error>
#include <tuple>

#include "core/errors.hpp"
#include "io/files.hpp"
#include "io/safetensors.hpp"

namespace dlrun {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kSuffix = ".safetensors";

std::string numbered_name(std::string_view prefix, int digits, Index number) {
  require(number >= 0, "checkpoint number must be non-negative");
  char text[32];
  std::snprintf(text, sizeof text, "%0*lld", digits, static_cast<long long>(number));
  return std::string(prefix) + text + std::string(kSuffix);
}

// "epoch-0012.safetensors" -> 12 when `name` is `<prefix><digits><suffix>`.
std::optional<Index> parse_number(std::string_view name, std::string_view prefix) {
  if (!name.starts_with(prefix) || !name.ends_with(kSuffix)) return std::nullopt;
  const std::string_view digits = name.substr(prefix.size(), name.size() - prefix.size() - kSuffix.size());
  if (digits.empty() || digits.size() > 18) return std::nullopt;
  Index number = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    number = number * 10 + (c - '0');
  }
  return number;
}

bool reads_back_valid(const fs::path& path) {
  try {
    read_safetensors(path);
    return true;
  } catch (const DataError&) {
    return false;
  }
}

// The newest valid checkpoint of one kind, scanning from the highest number down.
std::optional<fs::path> newest_valid(const std::vector<NumberedCheckpoint>& all, CheckpointKind kind) {
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (it->kind == kind && reads_back_valid(it->path)) return it->path;
  }
  return std::nullopt;
}

}  // namespace

std::string epoch_checkpoint_name(Index epoch) {
  return numbered_name("epoch-", 4, epoch);
}
std::string step_checkpoint_name(Index step) {
  return numbered_name("step-", 8, step);
}

std::vector<NumberedCheckpoint> list_numbered_checkpoints(const fs::path& checkpoints_dir) {
  std::vector<NumberedCheckpoint> found;
  std::error_code error;
  if (!fs::is_directory(checkpoints_dir, error)) return found;
  try {
    for (const auto& entry : fs::directory_iterator(checkpoints_dir)) {
      if (!entry.is_regular_file(error)) continue;
      const std::string name = entry.path().filename().string();
      if (const auto epoch = parse_number(name, "epoch-")) {
        found.push_back({entry.path(), CheckpointKind::epoch, *epoch});
      } else if (const auto step = parse_number(name, "step-")) {
        found.push_back({entry.path(), CheckpointKind::step, *step});
      }
    }
  } catch (const fs::filesystem_error& e) {
    throw DataError(Location{checkpoints_dir.string()}, "cannot list checkpoints: " + e.code().message());
  }
  std::sort(found.begin(), found.end(), [](const NumberedCheckpoint& a, const NumberedCheckpoint& b) {
    return std::tie(a.kind, a.number, a.path) < std::tie(b.kind, b.number, b.path);
  });
  return found;
}

void prune_checkpoints(const fs::path& checkpoints_dir, Index keep) {
  if (keep <= 0) return;
  const auto all = list_numbered_checkpoints(checkpoints_dir);
  for (const CheckpointKind kind : {CheckpointKind::epoch, CheckpointKind::step}) {
    std::vector<fs::path> of_kind;
    for (const auto& checkpoint : all) {
      if (checkpoint.kind == kind) of_kind.push_back(checkpoint.path);
    }
    const auto excess = static_cast<Index>(of_kind.size()) - keep;
    for (Index i = 0; i < excess; ++i) {
      const fs::path& old = of_kind[static_cast<std::size_t>(i)];
      std::error_code error;
      if (!fs::remove(old, error) && error) {
        throw OutputError(old.string() + ": cannot remove old checkpoint: " + error.message());
      }
    }
  }
}

std::optional<fs::path> newest_checkpoint(const fs::path& run_dir) {
  const fs::path checkpoints = run_dir / kCheckpointsFolder;
  const fs::path last = checkpoints / kLastCheckpointName;
  std::error_code error;
  if (fs::is_regular_file(last, error) && reads_back_valid(last)) return last;

  const auto all = list_numbered_checkpoints(checkpoints);
  const auto epoch = newest_valid(all, CheckpointKind::epoch);
  const auto step = newest_valid(all, CheckpointKind::step);
  if (!epoch || !step) return epoch ? epoch : step;
  const auto epoch_time = fs::last_write_time(*epoch, error);
  const auto step_time = fs::last_write_time(*step, error);
  if (error) return step;
  return epoch_time > step_time ? epoch : step;
}

}  // namespace dlrun
