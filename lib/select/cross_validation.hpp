// K-fold cross-validation of one config (DESIGN.md §3 `cv:`), without leakage: in every fold the
// input transform is fitted on the fold's training rows only, early stopping and `best` monitor an
// inner validation split carved from those rows (stratified), and the held-out fold is seen only
// by the final evaluation.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "data/load.hpp"
#include "select/folds.hpp"
#include "train/run_training.hpp"

namespace dlrun {

// The rows cross-validation deals into folds, read once and shared by every fold (read-only).
struct CvData {
  std::shared_ptr<const Dataset> dataset;
  std::vector<Index> rows;   // the pool: all training rows, the config's validation split included
  DataView validation;       // a validation dataset of its own (validation: {source}); else empty
  double inner_split = 0.0;  // the fraction of each fold's training rows held out for validation
};

// Reads the config's training data as the cv pool. data.validation: {split: F} carves F of each
// fold's training rows as its inner validation split; a validation source serves every fold as
// is; without validation no inner split is made (early stopping then watches training metrics).
// A test set is not read: the held-out folds are the test. Throws ConfigError / DataError.
CvData load_cv_data(const Config& config);

struct FoldResult {
  Index repeat = 0;  // 0-based
  Index fold = 0;    // 0-based
  Index train_rows = 0;
  Index validation_rows = 0;
  Index held_out_rows = 0;
  std::uint64_t seed = 0;    // the fold's seed (init, shuffling, dropout, inner split)
  InputTransform transform;  // fitted on the fold's training rows
  RunResult run;             // run.test: the metrics on the held-out fold
};

// The fold's seed: derived from (seed, repeat, fold), so any fold can be rerun alone.
std::uint64_t fold_seed(std::uint64_t seed, Index repeat, Index fold);

// The fold's data: training rows (less the inner validation split), validation, the held-out
// rows as test, and the transform fitted on the training rows only.
LoadedData fold_data(const Config& config, const CvData& data, const Fold& fold);

// Trains and evaluates one fold (no files are written). `stop_flag` may be null.
FoldResult run_fold(const Config& config, const CvData& data, const Fold& fold,
                    const std::atomic<bool>* stop_flag = nullptr);

class TaskFarm;  // dist/task_farm.hpp

// A FoldResult as a rank sends it back under MPI (without the transform, which stays on that rank)
// and back; numbers round-trip exactly.
nlohmann::json fold_result_json(const FoldResult& fold);
FoldResult fold_result_from_json(const nlohmann::json& json);  // throws nlohmann::json::exception

struct CvOptions {
  int jobs = 1;  // folds trained at once (run_tasks: the threads divided; same results as 1)
  // Under MPI (rank 0): each fold ({"fold": index in make_folds' order}) is trained by the next free
  // rank of the farm (lib/select/distributed_search serves them); jobs is then ignored.
  TaskFarm* farm = nullptr;
  const std::atomic<bool>* stop_flag = nullptr;
  // Called as each fold ends (serialised; in completion order, which with jobs > 1 varies).
  std::function<void(const FoldResult&)> on_fold_end;
};

struct CvResult {
  std::vector<FoldResult> folds;  // in (repeat, fold) order
  // Per repeat, the fold (0-based) each row of `rows` was held out in.
  std::vector<std::vector<Index>> fold_of_row;
  std::vector<Index> rows;           // the pool's rows (dataset indices)
  MetricValues mean;                 // over the folds' held-out metrics, in metric order
  MetricValues stddev;               // sample standard deviation (n - 1); 0 for one fold
  std::string status = "completed";  // completed | interrupted | diverged (a fold diverged)
  double seconds = 0.0;
};

// Runs config.cv.folds x config.cv.repeats folds. A diverged or interrupted fold stops the rest
// (status says which); the folds finished are kept.
CvResult cross_validate(const Config& config, const CvData& data, const CvOptions& options = {});

// Mean and sample standard deviation of each held-out metric over `folds`.
void summarize_folds(const std::vector<FoldResult>& folds, MetricValues& mean, MetricValues& stddev);

}  // namespace dlrun
