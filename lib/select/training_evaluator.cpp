#include "select/training_evaluator.hpp"

#include <chrono>
#include <cmath>

#include "config/parse_config.hpp"
#include "train/run_training.hpp"

namespace dlrun {
namespace {

// Whether a point can change what the trials read or how rows are dealt.
bool space_changes_data(const SearchSpace& space) {
  for (const std::string& path : space.paths()) {
    for (const std::string root : {"data", "cv", "seed"}) {
      if (path == root || path.starts_with(root + ".")) return true;
    }
  }
  return false;
}

void load_cv(const Config& config, const std::optional<std::vector<Index>>& rows, std::optional<CvData>& cv,
             std::vector<Fold>& folds) {
  cv = load_cv_data(config);
  if (rows) cv->rows = *rows;
  folds = make_folds(*cv->dataset, cv->rows, config.cv, config.seed);
}

}  // namespace

std::string scored_metric_name(const std::string& search_metric) {
  return search_metric.starts_with("val_") ? search_metric.substr(4) : search_metric;
}

Config config_for_point(const SearchSpace& space, const Point& point, const Node& tree,
                        const std::filesystem::path& file) {
  return config_from_tree(apply_point(space, point, tree), file);
}

TrainingEvaluator::TrainingEvaluator(const SearchSpace& space, const Config& base, EvaluatorSettings settings)
    : space_(space), tree_(base.tree), file_(base.file), settings_(std::move(settings)) {
  shared_ = !space_changes_data(space);
  if (!shared_) return;
  if (settings_.cv) {
    load_cv(base, settings_.cv_rows, cv_data_.cv, cv_data_.folds);
  } else {
    const bool classification = base.data.target != "inputs" && is_classification_loss(base.loss.type);
    holdout_data_ = load_data(base.data, classification, base.seed);
  }
}

std::size_t TrainingEvaluator::unit_count(const Config& config, TrialData& data) const {
  if (!settings_.cv) return 1;
  if (shared_) return cv_data_.folds.size();
  if (!data.cv) load_cv(config, settings_.cv_rows, data.cv, data.folds);
  return data.folds.size();
}

std::unique_ptr<Experiment> TrainingEvaluator::make_unit(const Config& config, std::size_t index,
                                                         TrialData& data) const {
  if (!settings_.cv) return shared_ ? prepare_experiment(config, *holdout_data_) : prepare_experiment(config);
  const TrialData& source = shared_ ? cv_data_ : data;
  const Fold& fold = source.folds[index];
  // As run_fold: the fold's own seed, its transform fitted on its training rows only.
  Config fold_config = config;
  fold_config.seed = fold_seed(config.seed, fold.repeat, fold.fold);
  LoadedData loaded = fold_data(fold_config, *source.cv, fold);
  return prepare_experiment(std::move(fold_config), std::move(loaded));
}

TrialOutcome TrainingEvaluator::evaluate(Index trial, const Point& point, Index epochs) {
  const auto started = std::chrono::steady_clock::now();
  TrialOutcome outcome;
  std::vector<Unit> units;
  {
    std::lock_guard lock(mutex_);
    if (auto found = kept_.find(trial); found != kept_.end()) {
      units = std::move(found->second);
      kept_.erase(found);
    }
  }
  try {
    const Config config = config_for_point(space_, point, tree_, file_);
    TrialData data;
    const std::size_t count = unit_count(config, data);
    units.resize(count);
    double metric_sum = 0.0;
    double best_epoch_sum = 0.0;
    const std::string name = scored_metric_name(settings_.metric);
    for (std::size_t i = 0; i < count && outcome.status == "completed"; ++i) {
      Unit& unit = units[i];
      const Index epochs_before = unit.experiment ? unit.state.epoch : 0;
      if (!unit.experiment) unit.experiment = make_unit(config, i, data);
      RunOptions options;
      options.write_files = false;
      options.evaluate_test = settings_.cv;  // the held-out fold
      options.stop_flag = settings_.stop_flag;
      if (epochs > 0) options.epochs = epochs;
      if (epochs_before > 0) options.continue_from = unit.state;
      RunResult result = run_training(*unit.experiment, options);
      outcome.epochs = std::max(outcome.epochs, result.epochs);
      outcome.new_epochs += result.epochs - epochs_before;
      best_epoch_sum += static_cast<double>(result.best_epoch);
      if (result.status == "diverged") {
        outcome.status = "failed";
        outcome.error = result.error;
        outcome.exit_code = DivergedError("").exit_code();
      } else if (result.status == "interrupted") {
        outcome.status = "interrupted";
      } else {
        const double value = metric_value(settings_.cv ? result.test : result.validation, name);
        if (!std::isfinite(value)) {
          outcome.status = "failed";
          outcome.error = "the metric '" + settings_.metric + "' is not finite";
          outcome.exit_code = DivergedError("").exit_code();
        }
        metric_sum += value;
      }
      unit.state = std::move(result.state);
      if (!settings_.keep_state) unit.experiment.reset();
    }
    if (outcome.status == "completed") {
      outcome.metric = metric_sum / static_cast<double>(count);
      outcome.best_epoch = std::llround(best_epoch_sum / static_cast<double>(count));
      if (settings_.keep_state) {
        std::lock_guard lock(mutex_);
        kept_[trial] = std::move(units);
      }
    }
  } catch (const OutputError&) {
    throw;
  } catch (const InternalError&) {
    throw;
  } catch (const DlrunError& error) {
    // An impossible combination (a shape that does not fit, an option out of range) fails this
    // trial only.
    outcome.status = "failed";
    outcome.error = error.what();
    outcome.exit_code = error.exit_code();
  }
  outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return outcome;
}

void TrainingEvaluator::release(Index trial) {
  std::lock_guard lock(mutex_);
  kept_.erase(trial);
}

}  // namespace dlrun
