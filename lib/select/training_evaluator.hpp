// Trials that really train: the config with the trial's point applied, built and trained by
// lib/train's run_training without files. `evaluate: holdout` scores the validation split;
// `evaluate: cv` trains every fold (lib/select/cross_validation: transform and early stopping on
// the fold's training rows only) and scores the mean over the held-out folds. The data is read
// once for the whole search unless the space changes `data`, `cv` or `seed`. With a scheduler the
// trial's experiments stay in memory between rungs, so a promoted trial continues training
// instead of starting over.
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "select/cross_validation.hpp"
#include "select/search_runner.hpp"
#include "train/experiment.hpp"

namespace dlrun {

// "val_accuracy" -> "accuracy": the metric's name in a run's validation (or held-out) results.
std::string scored_metric_name(const std::string& search_metric);

// The config of one point: `tree` with the point applied, validated.
Config config_for_point(const SearchSpace& space, const Point& point, const Node& tree,
                        const std::filesystem::path& file);

struct EvaluatorSettings {
  std::string metric = "val_accuracy";  // search.metric
  bool cv = false;                      // evaluate: cv
  bool keep_state = false;              // keep experiments between evaluations (scheduler)
  // cv: only these rows of the training data form the folds' pool (nested cv's outer training
  // rows); empty: all of them.
  std::optional<std::vector<Index>> cv_rows;
  const std::atomic<bool>* stop_flag = nullptr;
};

class TrainingEvaluator final : public TrialEvaluator {
 public:
  // `tree` is the resolved config tree of `base` (the search's config), `file` its file.
  TrainingEvaluator(const SearchSpace& space, const Config& base, EvaluatorSettings settings);

  TrialOutcome evaluate(Index trial, const Point& point, Index epochs) override;
  void release(Index trial) override;

 private:
  struct Unit {  // one training: the holdout run, or one cv fold
    std::unique_ptr<Experiment> experiment;
    TrainState state;
  };
  struct TrialData {  // what a trial trains on, when the space changes the data
    std::optional<CvData> cv;
    std::vector<Fold> folds;
  };
  std::unique_ptr<Experiment> make_unit(const Config& config, std::size_t index, TrialData& data) const;
  std::size_t unit_count(const Config& config, TrialData& data) const;

  const SearchSpace& space_;
  Node tree_;
  std::filesystem::path file_;
  EvaluatorSettings settings_;
  bool shared_ = false;  // the data below serves every trial
  std::optional<LoadedData> holdout_data_;
  TrialData cv_data_;
  std::mutex mutex_;
  std::map<Index, std::vector<Unit>> kept_;
};

}  // namespace dlrun
