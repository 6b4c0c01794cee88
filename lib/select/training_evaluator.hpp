// Trials that really train: the config with the trial's point applied, built and trained by
// lib/train's run_training without files, scored on the validation split (`evaluate: holdout`).
// With a scheduler the trial's experiment stays in memory between rungs, so a promoted trial
// continues training instead of starting over.
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "select/search_runner.hpp"
#include "train/experiment.hpp"
#include "train/run_training.hpp"

namespace dlrun {

// "val_accuracy" -> "accuracy": the name of the metric in a run's validation (or held-out) results.
std::string scored_metric_name(const std::string& search_metric);

class TrainingEvaluator final : public TrialEvaluator {
 public:
  // `base_tree` is the resolved config tree, `file` the config file. `metric` is search.metric.
  // keep_state: keep each trial's experiment between evaluations (for the scheduler).
  TrainingEvaluator(const SearchSpace& space, Node base_tree, std::filesystem::path file, std::string metric,
                    bool keep_state, const std::atomic<bool>* stop_flag);

  TrialOutcome evaluate(Index trial, const Point& point, Index epochs) override;
  void release(Index trial) override;

 private:
  struct Kept {
    std::unique_ptr<Experiment> experiment;
    TrainState state;
  };
  const SearchSpace& space_;
  Node base_tree_;
  std::filesystem::path file_;
  std::string metric_;
  bool keep_state_;
  const std::atomic<bool>* stop_flag_;
  std::mutex mutex_;
  std::map<Index, Kept> kept_;
};

// The config of one point: `tree` with the point applied, validated.
Config config_for_point(const SearchSpace& space, const Point& point, const Node& tree,
                        const std::filesystem::path& file);

}  // namespace dlrun
