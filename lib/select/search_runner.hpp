// The search loop: asks the strategy for points, has the evaluator train them (up to `jobs` at a
// time), and with a scheduler (successive halving, Hyperband) gives more epochs to the best trials
// of each rung and stops the rest. It knows nothing of files: the caller's hooks write the journal
// and trials.csv, and replay finished trials on resume. docs/search.md describes the rules.
#pragma once

#include <atomic>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "select/strategy.hpp"

namespace dlrun {

// One evaluation of a trial.
struct TrialOutcome {
  std::string status = "completed";  // completed | failed | interrupted
  double metric = std::numeric_limits<double>::quiet_NaN();
  Index epochs = 0;      // epochs the trial has trained in total
  Index new_epochs = 0;  // epochs this evaluation trained (less than `epochs` when it continued)
  Index best_epoch = 0;  // the epoch whose weights were evaluated (early stopping's restored best)
  double seconds = 0.0;
  std::string error;  // why it failed
  int exit_code = 0;  // a failed trial's error's exit code (2 config, 4 diverged, ...)
};

// A TrialOutcome as JSON (the journal's finish line, a rank's answer under MPI) and back; numbers
// round-trip exactly, a NaN metric as null.
nlohmann::json outcome_json(const TrialOutcome& outcome);
TrialOutcome outcome_from_json(const nlohmann::json& json);  // throws nlohmann::json::exception

class TaskFarm;  // dist/task_farm.hpp

class TrialEvaluator {
 public:
  virtual ~TrialEvaluator() = default;
  // Trains trial `trial` at `point` until it has `epochs` epochs in total (0: the config's epochs),
  // continuing where its previous evaluation stopped when the evaluator kept that state, and
  // returns its metric. A failed training (divergence, an impossible combination) is an outcome
  // with status "failed", not an exception. Called from several threads for different trials.
  virtual TrialOutcome evaluate(Index trial, const Point& point, Index epochs) = 0;
  // The trial will not be continued: its kept state may go.
  virtual void release(Index /*trial*/) {}
};

// A trial's latest evaluation. status: completed | failed | stopped (the scheduler stopped it
// before its last rung) | interrupted.
struct TrialRecord {
  Index trial = 0;  // 1-based
  Point point;
  Index budget = 0;  // the epochs this evaluation asked for (0: the config's)
  TrialOutcome outcome;
  std::string status;
  double seconds = 0.0;   // over all its evaluations
  bool replayed = false;  // taken from the journal, not trained now
};

struct SearchHooks {
  // A journaled result of (trial, budget), to use instead of training (resume).
  std::function<std::optional<TrialOutcome>(Index trial, Index budget, const Point& point)> recorded;
  // Called (serialised) when an evaluation starts and when one finishes.
  std::function<void(Index trial, Index budget, const Point& point)> on_start;
  std::function<void(const TrialRecord& record)> on_finish;
  // When raised, no new evaluation starts; the running ones are asked to stop by the evaluator.
  const std::atomic<bool>* stop_flag = nullptr;
};

struct SearchRun {
  std::vector<TrialRecord> trials;  // by trial number; the last evaluation of each
  Index total_epochs = 0;           // epochs trained over all evaluations (replayed ones included)
  bool interrupted = false;
};

struct SearchPlan {
  Strategy* strategy = nullptr;
  SchedulerConfig scheduler;
  Index max_epochs = 0;  // the config's train.epochs (the scheduler's default last rung)
  bool maximize = true;
  Index jobs = 1;
  // Under MPI: trials go to the farm's ranks instead of `evaluator` (each task is {"trial",
  // "budget", "point", "context": farm_context}, its answer outcome_json); jobs is then ignored.
  TaskFarm* farm = nullptr;
  nlohmann::json farm_context;
};

SearchRun run_search_loop(const SearchPlan& plan, TrialEvaluator& evaluator, const SearchHooks& hooks);

// One successive-halving bracket: `configs` trials starting at `min_epochs`, each rung keeping the
// best floor(n / eta) (at least one) with eta times the epochs, up to `max_epochs`.
struct Bracket {
  Index configs = 0;
  std::vector<Index> budgets;  // epochs of each rung, increasing, the last being max_epochs
};
// The brackets that cover `trials` trials: one bracket for successive halving; for Hyperband the
// brackets s = s_max .. 0 (s_max = floor(log_eta(max / min))), n_s = ceil((s_max + 1) / (s + 1) *
// eta^s) trials starting at max / eta^s epochs, repeated until `trials` trials are placed.
std::vector<Bracket> plan_brackets(const SchedulerConfig& scheduler, Index max_epochs, Index trials);

}  // namespace dlrun
