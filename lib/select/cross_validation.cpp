#include "select/cross_validation.hpp"

#include <chrono>
#include <cmath>
#include <mutex>
#include <optional>

#include "core/errors.hpp"
#include "core/random.hpp"
#include "core/threads.hpp"
#include "train/experiment.hpp"

namespace dlrun {

CvData load_cv_data(const Config& config) {
  // The task decides how labels are read, as in prepare_experiment.
  const bool autoencoder = config.data.target == "inputs";
  const bool classification = !autoencoder && is_classification_loss(config.loss.type);
  DataConfig data_config = config.data;
  data_config.test.reset();  // the held-out folds are the test
  LoadedData loaded = load_data(data_config, classification, config.seed);
  CvData data;
  data.dataset = loaded.train.dataset;
  data.rows = loaded.train.rows;
  if (config.data.validation.kind == ValidationSpec::Kind::split) {
    // The validation split goes back into the pool; each fold carves its own.
    data.rows.insert(data.rows.end(), loaded.validation.rows.begin(), loaded.validation.rows.end());
    std::sort(data.rows.begin(), data.rows.end());
    data.inner_split = config.data.validation.fraction;
  } else if (config.data.validation.kind == ValidationSpec::Kind::source) {
    data.validation = loaded.validation;
  }
  return data;
}

std::uint64_t fold_seed(std::uint64_t seed, Index repeat, Index fold) {
  const auto index = (static_cast<std::uint64_t>(repeat) << 32) | static_cast<std::uint64_t>(fold);
  return Rng::for_stream(seed, "cv_fold", index).next_u64();
}

LoadedData fold_data(const Config& config, const CvData& data, const Fold& fold) {
  const Dataset& dataset = *data.dataset;
  LoadedData loaded;
  loaded.train = DataView{data.dataset, fold.train};
  if (data.inner_split > 0.0) {
    Rng rng = Rng::for_stream(config.seed, "split");
    Split split = split_rows(dataset, fold.train, data.inner_split, rng);
    loaded.train.rows = std::move(split.train);
    loaded.validation = DataView{data.dataset, std::move(split.held_out)};
  } else {
    loaded.validation = data.validation;
  }
  loaded.test = DataView{data.dataset, fold.held_out};
  // Fitted on the training rows only: the held-out fold (and the inner validation rows) never
  // shape the normalisation.
  loaded.transform =
      InputTransform::fit(dataset, loaded.train.rows, config.data.scale, config.data.normalize);
  return loaded;
}

FoldResult run_fold(const Config& config, const CvData& data, const Fold& fold,
                    const std::atomic<bool>* stop_flag) {
  FoldResult result;
  result.repeat = fold.repeat;
  result.fold = fold.fold;
  Config fold_config = config;
  fold_config.seed = fold_seed(config.seed, fold.repeat, fold.fold);
  result.seed = fold_config.seed;
  LoadedData loaded = fold_data(fold_config, data, fold);
  result.train_rows = loaded.train.size();
  result.validation_rows = loaded.validation.size();
  result.held_out_rows = loaded.test.size();
  result.transform = loaded.transform;
  auto experiment = prepare_experiment(std::move(fold_config), std::move(loaded));
  RunOptions options;
  options.write_files = false;
  options.stop_flag = stop_flag;
  result.run = run_training(*experiment, options);
  return result;
}

void summarize_folds(const std::vector<FoldResult>& folds, MetricValues& mean, MetricValues& stddev) {
  mean.clear();
  stddev.clear();
  if (folds.empty()) return;
  for (const auto& [name, value] : folds.front().run.test) {
    double sum = 0.0;
    for (const FoldResult& fold : folds) sum += metric_value(fold.run.test, name);
    const double n = static_cast<double>(folds.size());
    const double average = sum / n;
    double squares = 0.0;
    for (const FoldResult& fold : folds) {
      const double deviation = metric_value(fold.run.test, name) - average;
      squares += deviation * deviation;
    }
    mean.emplace_back(name, average);
    stddev.emplace_back(name, folds.size() > 1 ? std::sqrt(squares / (n - 1.0)) : 0.0);
  }
}

CvResult cross_validate(const Config& config, const CvData& data, const CvOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  CvResult result;
  result.rows = data.rows;
  result.fold_of_row = assign_folds(*data.dataset, data.rows, config.cv, config.seed);
  const std::vector<Fold> folds = make_folds(*data.dataset, data.rows, config.cv, config.seed);

  std::vector<std::optional<FoldResult>> done(folds.size());
  std::mutex mutex;
  std::atomic<bool> stop_rest{false};
  run_tasks(static_cast<Index>(folds.size()), options.jobs, [&](Index i) {
    if (stop_rest.load()) return;
    FoldResult fold = run_fold(config, data, folds[static_cast<std::size_t>(i)], options.stop_flag);
    std::lock_guard lock(mutex);
    if (fold.run.status == "diverged" || fold.run.status == "interrupted") {
      stop_rest.store(true);
      // A divergence outranks an interruption: it is the one to report.
      if (result.status != "diverged") result.status = fold.run.status;
    }
    if (options.on_fold_end) options.on_fold_end(fold);
    done[static_cast<std::size_t>(i)] = std::move(fold);
  });
  for (auto& fold : done) {
    if (fold) result.folds.push_back(std::move(*fold));
  }
  std::vector<FoldResult> evaluated;
  for (const FoldResult& fold : result.folds) {
    if (!fold.run.test.empty()) evaluated.push_back(fold);
  }
  summarize_folds(evaluated, result.mean, result.stddev);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace dlrun
