// The checkpointing callback: numbered checkpoints every N epochs (and every N steps), `last`
// after every epoch and on interrupt, `best` when the monitored metric improves; keeps the newest K.
#pragma once

#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "train/checkpoint.hpp"
#include "train/early_stopping.hpp"
#include "train/trainer.hpp"

namespace dlrun {

class Checkpointer final : public Callback {
 public:
  struct Sources {
    Model* model = nullptr;
    Optimizer* optimizer = nullptr;
    Schedule* schedule = nullptr;             // may be null
    EarlyStopping* early_stopping = nullptr;  // may be null
    Trainer* trainer = nullptr;
    std::string config_yaml;
    nlohmann::json provenance;
    Vocabulary vocabulary;  // text data's characters (empty otherwise), stored in every checkpoint
    // More tensors for every checkpoint (pruning masks), with their dtypes when not F32.
    std::vector<std::pair<std::string, const Tensor*>> extra_tensors;
    std::map<std::string, std::string> extra_dtypes;
    std::vector<CategoricalColumn> categories;  // data.categorical's, stored in every checkpoint
  };

  // `monitor` is the resolved metric for `best` (val_* only when there is validation data).
  Checkpointer(std::filesystem::path checkpoints_dir, const CheckpointConfig& config, std::string monitor,
               Sources sources);

  void on_batch_end(const BatchReport& report, const TrainState& state) override;
  Verdict on_epoch_end(const EpochReport& report, TrainState& state) override;
  void on_train_end(const TrainState& state) override;

  std::map<std::string, double> state() const { return {{"best", best_}}; }
  void set_state(const std::map<std::string, double>& state);
  const std::filesystem::path& last_path() const { return last_; }

 private:
  void save(const std::filesystem::path& path, const TrainState& state);
  std::filesystem::path dir_;
  CheckpointConfig config_;
  std::string monitor_;
  bool maximize_;
  double best_;
  Sources sources_;
  std::filesystem::path last_;
};

}  // namespace dlrun
