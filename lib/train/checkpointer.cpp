#include "train/checkpointer.hpp"

#include <cmath>

#include "core/errors.hpp"
#include "io/checkpoint_files.hpp"
#include "train/divergence.hpp"

namespace dlrun {

Checkpointer::Checkpointer(std::filesystem::path checkpoints_dir, const CheckpointConfig& config,
                           std::string monitor, Sources sources)
    : dir_(std::move(checkpoints_dir)),
      config_(config),
      monitor_(std::move(monitor)),
      maximize_(monitor_maximizes(monitor_, config.mode)),
      best_(maximize_ ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity()),
      sources_(std::move(sources)),
      last_(dir_ / kLastCheckpointName) {}

void Checkpointer::set_state(const std::map<std::string, double>& state) {
  if (auto it = state.find("best"); it != state.end() && !std::isnan(it->second)) best_ = it->second;
}

void Checkpointer::save(const std::filesystem::path& path, const TrainState& state) {
  // Never replace a good checkpoint with a diverged one.
  for (const ParameterRef& ref : sources_.model->parameters()) {
    if (!all_finite(ref.parameter->value.values())) {
      throw DivergedError("training diverged by step " + std::to_string(state.global_step) + ": parameter " +
                          ref.name + " is not finite; the last checkpoint is kept");
    }
  }
  CheckpointState s;
  s.train = state;
  s.progress = state.step_in_epoch > 0 ? sources_.trainer->progress() : nlohmann::json::object();
  if (sources_.schedule) s.schedule = sources_.schedule->state();
  std::vector<std::pair<std::string, const Tensor*>> extra;
  if (sources_.early_stopping) {
    s.early_stopping = sources_.early_stopping->state();
    extra = sources_.early_stopping->snapshot_tensors();
  }
  s.checkpointer = this->state();
  s.config_yaml = sources_.config_yaml;
  s.provenance = sources_.provenance;
  s.vocabulary = sources_.vocabulary;
  s.categories = sources_.categories;
  extra.insert(extra.end(), sources_.extra_tensors.begin(), sources_.extra_tensors.end());
  try {
    save_checkpoint(path, *sources_.model, sources_.optimizer, s, extra, sources_.extra_dtypes);
  } catch (const OutputError& error) {
    // A full disk: the write went to a temporary that is gone, so every checkpoint already in the
    // folder is whole. Say so, and how to go on.
    throw OutputError(std::string(error.what()) +
                      " (the checkpoints written before are intact: free space, then --resume " +
                      dir_.parent_path().string() + ")");
  }
}

void Checkpointer::on_batch_end(const BatchReport& report, const TrainState& state) {
  if (config_.every_steps <= 0 || state.global_step % config_.every_steps != 0 || report.step == report.steps)
    return;
  save(dir_ / step_checkpoint_name(state.global_step), state);
  save(last_, state);
  prune_checkpoints(dir_, config_.keep);
}

Verdict Checkpointer::on_epoch_end(const EpochReport& report, TrainState& state) {
  // `state` still counts the finished epoch as current; a checkpoint records it as completed.
  TrainState completed = state;
  completed.epoch = report.epoch;
  completed.step_in_epoch = 0;
  const double value = report.metric(monitor_);
  const bool improved = !std::isnan(value) && (maximize_ ? value > best_ : value < best_);
  if (improved) best_ = value;
  if (config_.every > 0 && report.epoch % config_.every == 0) {
    save(dir_ / epoch_checkpoint_name(report.epoch), completed);
    prune_checkpoints(dir_, config_.keep);
  }
  if (config_.save_best && improved) save(dir_ / kBestCheckpointName, completed);
  save(last_, completed);
  return Verdict::keep_going;
}

void Checkpointer::on_train_end(const TrainState& state) {
  if (state.stop_reason == "interrupted") save(last_, state);
}

}  // namespace dlrun
