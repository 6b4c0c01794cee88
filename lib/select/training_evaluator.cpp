#include "select/training_evaluator.hpp"

#include <chrono>
#include <cmath>

#include "config/parse_config.hpp"

namespace dlrun {

std::string scored_metric_name(const std::string& search_metric) {
  return search_metric.starts_with("val_") ? search_metric.substr(4) : search_metric;
}

Config config_for_point(const SearchSpace& space, const Point& point, const Node& tree,
                        const std::filesystem::path& file) {
  return config_from_tree(apply_point(space, point, tree), file);
}

TrainingEvaluator::TrainingEvaluator(const SearchSpace& space, Node base_tree, std::filesystem::path file,
                                     std::string metric, bool keep_state, const std::atomic<bool>* stop_flag)
    : space_(space),
      base_tree_(std::move(base_tree)),
      file_(std::move(file)),
      metric_(std::move(metric)),
      keep_state_(keep_state),
      stop_flag_(stop_flag) {}

TrialOutcome TrainingEvaluator::evaluate(Index trial, const Point& point, Index epochs) {
  const auto started = std::chrono::steady_clock::now();
  TrialOutcome outcome;
  Kept kept;
  {
    std::lock_guard lock(mutex_);
    if (auto found = kept_.find(trial); found != kept_.end()) {
      kept = std::move(found->second);
      kept_.erase(found);
    }
  }
  const Index epochs_before = kept.experiment ? kept.state.epoch : 0;
  try {
    if (!kept.experiment)
      kept.experiment = prepare_experiment(config_for_point(space_, point, base_tree_, file_));
    RunOptions options;
    options.write_files = false;
    options.evaluate_test = false;
    options.stop_flag = stop_flag_;
    if (epochs > 0) options.epochs = epochs;
    if (epochs_before > 0) options.continue_from = kept.state;
    RunResult result = run_training(*kept.experiment, options);
    outcome.epochs = result.epochs;
    outcome.new_epochs = result.epochs - epochs_before;
    outcome.best_epoch = result.best_epoch;
    if (result.status == "diverged") {
      outcome.status = "failed";
      outcome.error = result.error;
      outcome.exit_code = DivergedError("").exit_code();
    } else if (result.status == "interrupted") {
      outcome.status = "interrupted";
    } else {
      outcome.metric = metric_value(result.validation, scored_metric_name(metric_));
      if (!std::isfinite(outcome.metric)) {
        outcome.status = "failed";
        outcome.error = "the metric '" + metric_ + "' is not finite";
        outcome.exit_code = DivergedError("").exit_code();
      } else if (keep_state_) {
        kept.state = std::move(result.state);
        std::lock_guard lock(mutex_);
        kept_[trial] = std::move(kept);
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
