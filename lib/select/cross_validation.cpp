#include "select/cross_validation.hpp"

#include <chrono>
#include <cmath>
#include <mutex>
#include <optional>

#include "core/errors.hpp"
#include "core/random.hpp"
#include "core/threads.hpp"
#include "dist/task_farm.hpp"
#include "train/experiment.hpp"

namespace dlrun {

CvData load_cv_data(const Config& config) {
  // The task decides how labels are read, as in prepare_experiment.
  const bool autoencoder = config.data.target == "inputs";
  const bool classification = !autoencoder && is_classification_loss(config.loss.type);
  DataConfig data_config = config.data;
  data_config.test.reset();  // the held-out folds are the test
  // Not yet encoded: each fold learns its categories from its own training rows (fold_data).
  LoadedData loaded = load_unencoded_data(data_config, classification, config.seed);
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
  // shape the categories or the normalisation.
  encode_and_fit(loaded, config.data);
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

namespace {

nlohmann::json metrics_json(const MetricValues& values) {
  nlohmann::json list = nlohmann::json::array();  // pairs, to keep the report order
  for (const auto& [name, value] : values) {
    list.push_back({name, std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr)});
  }
  return list;
}

MetricValues metrics_from_json(const nlohmann::json& list) {
  MetricValues values;
  for (const auto& pair : list) {
    const nlohmann::json& value = pair.at(1);
    values.emplace_back(pair.at(0).get<std::string>(),
                        value.is_number() ? value.get<double>() : std::numeric_limits<double>::quiet_NaN());
  }
  return values;
}

}  // namespace

nlohmann::json fold_result_json(const FoldResult& fold) {
  return {{"repeat", fold.repeat},
          {"fold", fold.fold},
          {"train_rows", fold.train_rows},
          {"validation_rows", fold.validation_rows},
          {"held_out_rows", fold.held_out_rows},
          {"seed", fold.seed},
          {"status", fold.run.status},
          {"error", fold.run.error},
          {"early_stopping_reason", fold.run.early_stopping_reason},
          {"epochs", fold.run.epochs},
          {"best_epoch", fold.run.best_epoch},
          {"seconds", fold.run.seconds},
          {"seconds_per_epoch", fold.run.seconds_per_epoch},
          {"train", metrics_json(fold.run.train)},
          {"validation", metrics_json(fold.run.validation)},
          {"test", metrics_json(fold.run.test)}};
}

FoldResult fold_result_from_json(const nlohmann::json& json) {
  FoldResult fold;
  fold.repeat = json.at("repeat").get<Index>();
  fold.fold = json.at("fold").get<Index>();
  fold.train_rows = json.at("train_rows").get<Index>();
  fold.validation_rows = json.at("validation_rows").get<Index>();
  fold.held_out_rows = json.at("held_out_rows").get<Index>();
  fold.seed = json.at("seed").get<std::uint64_t>();
  RunResult& run = fold.run;
  run.status = json.at("status").get<std::string>();
  run.error = json.at("error").get<std::string>();
  run.early_stopping_reason = json.at("early_stopping_reason").get<std::string>();
  run.epochs = json.at("epochs").get<Index>();
  run.best_epoch = json.at("best_epoch").get<Index>();
  run.seconds = json.at("seconds").get<double>();
  run.seconds_per_epoch = json.at("seconds_per_epoch").get<double>();
  run.train = metrics_from_json(json.at("train"));
  run.validation = metrics_from_json(json.at("validation"));
  run.test = metrics_from_json(json.at("test"));
  return fold;
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
  auto finished = [&](std::size_t i, FoldResult fold) {
    if (fold.run.status == "diverged" || fold.run.status == "interrupted") {
      stop_rest.store(true);
      // A divergence outranks an interruption: it is the one to report.
      if (result.status != "diverged") result.status = fold.run.status;
    }
    if (options.on_fold_end) options.on_fold_end(fold);
    done[i] = std::move(fold);
  };
  if (options.farm) {
    std::vector<nlohmann::json> tasks;
    for (std::size_t i = 0; i < folds.size(); ++i) tasks.push_back({{"fold", i}});
    options.farm->run(
        tasks,
        [&](std::size_t) { return !stop_rest.load() && !(options.stop_flag && options.stop_flag->load()); },
        [&](std::size_t i, const nlohmann::json& answer) { finished(i, fold_result_from_json(answer)); });
  } else {
    run_tasks(static_cast<Index>(folds.size()), options.jobs, [&](Index i) {
      if (stop_rest.load()) return;
      FoldResult fold = run_fold(config, data, folds[static_cast<std::size_t>(i)], options.stop_flag);
      std::lock_guard lock(mutex);
      finished(static_cast<std::size_t>(i), std::move(fold));
    });
  }
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
