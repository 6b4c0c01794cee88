#include "select/search_runner.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <map>
#include <mutex>

#include "core/threads.hpp"
#include "dist/task_farm.hpp"

namespace dlrun {
namespace {

struct Task {
  Index trial = 0;
  Index budget = 0;
  Point point;
};

// Runs tasks on up to `jobs` threads; results land in each task's record. The first exception
// stops new tasks and is rethrown once the running ones have returned.
class Executor {
 public:
  Executor(TrialEvaluator& evaluator, const SearchHooks& hooks, SearchRun& run, const SearchPlan& plan)
      : evaluator_(evaluator), hooks_(hooks), run_(run), jobs_(std::max<Index>(1, plan.jobs)), plan_(plan) {}

  // Evaluates every task (unless stopped) and updates run_.trials. Tasks run through run_tasks:
  // each job on its share of the threads, with the work splits of all of them, so results match
  // --jobs 1.
  void run(const std::vector<Task>& tasks) {
    if (plan_.farm) return run_on_farm(tasks);
    run_tasks(static_cast<Index>(tasks.size()), static_cast<int>(jobs_), [&](Index index) {
      if (!stop_requested()) evaluate(tasks[static_cast<std::size_t>(index)]);
    });
  }

  bool stop_requested() const { return hooks_.stop_flag && hooks_.stop_flag->load(); }

 private:
  void evaluate(const Task& task) {
    std::optional<TrialOutcome> outcome;
    if (hooks_.recorded) outcome = hooks_.recorded(task.trial, task.budget, task.point);
    const bool replayed = outcome.has_value();
    if (!replayed) {
      {
        std::lock_guard lock(mutex_);
        if (hooks_.on_start) hooks_.on_start(task.trial, task.budget, task.point);
      }
      outcome = evaluator_.evaluate(task.trial, task.point, task.budget);
    }
    std::lock_guard lock(mutex_);
    record(task, *outcome, replayed);
  }

  // Under MPI: journaled trials are replayed here, the others trained by the farm's ranks, each
  // handed to the next free rank (on this thread: MPI is called from the main thread only).
  void run_on_farm(const std::vector<Task>& tasks) {
    std::vector<const Task*> remote;
    std::vector<nlohmann::json> requests;
    for (const Task& task : tasks) {
      if (stop_requested()) return;
      std::optional<TrialOutcome> outcome;
      if (hooks_.recorded) outcome = hooks_.recorded(task.trial, task.budget, task.point);
      if (outcome) {
        record(task, *outcome, true);
        continue;
      }
      remote.push_back(&task);
      requests.push_back({{"trial", task.trial},
                          {"budget", task.budget},
                          {"point", task.point},
                          {"context", plan_.farm_context}});
    }
    plan_.farm->run(
        requests,
        [&](std::size_t index) {
          if (stop_requested()) return false;
          const Task& task = *remote[index];
          if (hooks_.on_start) hooks_.on_start(task.trial, task.budget, task.point);
          return true;
        },
        [&](std::size_t index, const nlohmann::json& answer) {
          record(*remote[index], outcome_from_json(answer), false);
        });
  }

  // The task's outcome into run_.trials (under mutex_ where jobs run in parallel).
  void record(const Task& task, const TrialOutcome& outcome, bool replayed) {
    TrialRecord& record = run_.trials[static_cast<std::size_t>(task.trial - 1)];
    record.trial = task.trial;
    record.point = task.point;
    record.budget = task.budget;
    record.seconds += outcome.seconds;
    record.outcome = outcome;
    record.status = outcome.status;
    record.replayed = replayed;
    run_.total_epochs += outcome.new_epochs;
    if (outcome.status == "interrupted") {
      run_.interrupted = true;
      return;  // not finished: a resume trains it again
    }
    if (hooks_.on_finish) hooks_.on_finish(record);
  }

  TrialEvaluator& evaluator_;
  const SearchHooks& hooks_;
  SearchRun& run_;
  Index jobs_;
  const SearchPlan& plan_;
  std::mutex mutex_;
};

nlohmann::json number_or_null(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

double score_of(const TrialRecord& record, bool maximize) {
  return maximize ? record.outcome.metric : -record.outcome.metric;
}

bool finished_ok(const TrialRecord& record) {
  return record.trial > 0 && record.status == "completed";
}

// Without a scheduler: trials in generations of those that see the same finished trials
// (all of them for grid and random; the start-up trials, then each batch, for bayes).
void run_generations(const SearchPlan& plan, Executor& executor, SearchRun& run) {
  Strategy& strategy = *plan.strategy;
  const Index total = strategy.trial_count();
  Index trial = 1;
  while (trial <= total && !executor.stop_requested()) {
    const Index sees = strategy.sees_before(trial);
    std::vector<Observation> history;
    for (Index t = 1; t < sees; ++t) {
      const TrialRecord& record = run.trials[static_cast<std::size_t>(t - 1)];
      history.push_back(
          {record.point, finished_ok(record) ? score_of(record, plan.maximize) : 0.0, !finished_ok(record)});
    }
    std::vector<Task> tasks;
    for (; trial <= total && strategy.sees_before(trial) == sees; ++trial) {
      tasks.push_back({trial, 0, strategy.propose(trial, history)});
    }
    executor.run(tasks);
    if (run.interrupted) return;
  }
}

// With a scheduler: each bracket's trials train to the first rung; the best 1/eta go on. A
// bracket's points are proposed when it starts, from every evaluation finished before (BOHB; grid
// and random ignore them), so they do not depend on --jobs.
void run_brackets(const SearchPlan& plan, TrialEvaluator& evaluator, Executor& executor, SearchRun& run) {
  const Index max_epochs = plan.scheduler.max_epochs > 0 ? plan.scheduler.max_epochs : plan.max_epochs;
  BudgetHistory finished;
  Index next_trial = 1;
  for (const Bracket& bracket :
       plan_brackets(plan.scheduler, plan.max_epochs, plan.strategy->trial_count())) {
    if (executor.stop_requested()) return;
    std::vector<Index> trials;
    for (Index i = 0; i < bracket.configs; ++i) trials.push_back(next_trial++);
    const std::vector<Point> points = plan.strategy->propose_bracket(trials, finished);
    std::vector<Task> tasks;
    for (std::size_t i = 0; i < trials.size(); ++i)
      tasks.push_back({trials[i], bracket.budgets.front(), points[i]});
    for (std::size_t rung = 0; rung < bracket.budgets.size(); ++rung) {
      if (executor.stop_requested()) return;
      for (Task& task : tasks) task.budget = bracket.budgets[rung];
      executor.run(tasks);
      if (run.interrupted) return;
      for (const Task& task : tasks) {
        const TrialRecord& record = run.trials[static_cast<std::size_t>(task.trial - 1)];
        finished[task.budget].push_back(
            {task.point, finished_ok(record) ? score_of(record, plan.maximize) : 0.0, !finished_ok(record)});
      }
      if (rung + 1 == bracket.budgets.size()) break;
      // Rank: completed by score (best first), then failed; ties keep the trial order.
      std::stable_sort(tasks.begin(), tasks.end(), [&](const Task& a, const Task& b) {
        const TrialRecord& ra = run.trials[static_cast<std::size_t>(a.trial - 1)];
        const TrialRecord& rb = run.trials[static_cast<std::size_t>(b.trial - 1)];
        if (finished_ok(ra) != finished_ok(rb)) return finished_ok(ra);
        return finished_ok(ra) && score_of(ra, plan.maximize) > score_of(rb, plan.maximize);
      });
      const auto keep =
          static_cast<std::size_t>(std::max<Index>(1, static_cast<Index>(tasks.size()) / plan.scheduler.eta));
      for (std::size_t i = keep; i < tasks.size(); ++i) {
        TrialRecord& record = run.trials[static_cast<std::size_t>(tasks[i].trial - 1)];
        if (record.status == "completed" && record.outcome.epochs < max_epochs) record.status = "stopped";
        evaluator.release(tasks[i].trial);
      }
      tasks.resize(keep);
      std::sort(tasks.begin(), tasks.end(), [](const Task& a, const Task& b) { return a.trial < b.trial; });
      // A failed trial is never promoted past a completed one, but with too few completed
      // trials the kept set may hold failures: they stay failed.
      std::erase_if(tasks, [&](const Task& task) {
        if (finished_ok(run.trials[static_cast<std::size_t>(task.trial - 1)])) return false;
        evaluator.release(task.trial);
        return true;
      });
      if (tasks.empty()) break;
    }
    for (const Task& task : tasks) evaluator.release(task.trial);
  }
}

}  // namespace

nlohmann::json outcome_json(const TrialOutcome& outcome) {
  return {{"status", outcome.status},         {"metric", number_or_null(outcome.metric)},
          {"epochs", outcome.epochs},         {"new_epochs", outcome.new_epochs},
          {"best_epoch", outcome.best_epoch}, {"seconds", outcome.seconds},
          {"error", outcome.error},           {"exit_code", outcome.exit_code}};
}

TrialOutcome outcome_from_json(const nlohmann::json& json) {
  TrialOutcome outcome;
  outcome.status = json.at("status").get<std::string>();
  const nlohmann::json& metric = json.at("metric");
  outcome.metric = metric.is_number() ? metric.get<double>() : std::numeric_limits<double>::quiet_NaN();
  outcome.epochs = json.at("epochs").get<Index>();
  outcome.new_epochs = json.at("new_epochs").get<Index>();
  outcome.best_epoch = json.at("best_epoch").get<Index>();
  outcome.seconds = json.at("seconds").get<double>();
  outcome.error = json.at("error").get<std::string>();
  outcome.exit_code = json.value("exit_code", 0);
  return outcome;
}

std::vector<Bracket> plan_brackets(const SchedulerConfig& scheduler, Index max_epochs, Index trials) {
  const Index max_budget = scheduler.max_epochs > 0 ? scheduler.max_epochs : max_epochs;
  const Index min_budget = std::min(scheduler.min_epochs, max_budget);
  const auto eta = static_cast<double>(scheduler.eta);
  // Rungs from `first` epochs: first * eta^i, the last capped at max_budget.
  auto rungs_from = [&](double first) {
    std::vector<Index> budgets;
    double budget = first;
    for (;;) {
      const Index epochs = std::min<Index>(max_budget, std::max<Index>(1, std::llround(budget)));
      if (budgets.empty() || epochs > budgets.back()) budgets.push_back(epochs);
      if (epochs >= max_budget) return budgets;
      budget *= eta;
    }
  };
  std::vector<Bracket> brackets;
  if (scheduler.type == "successive_halving") {
    brackets.push_back({trials, rungs_from(static_cast<double>(min_budget))});
    return brackets;
  }
  // Hyperband (Li et al. 2018, Algorithm 1), budgets in epochs.
  const auto ratio = static_cast<double>(max_budget) / static_cast<double>(min_budget);
  const auto s_max = static_cast<Index>(std::floor(std::log(ratio) / std::log(eta) + 1e-9));
  Index placed = 0;
  while (placed < trials) {
    for (Index s = s_max; s >= 0 && placed < trials; --s) {
      const auto n = static_cast<Index>(
          std::ceil(static_cast<double>(s_max + 1) / static_cast<double>(s + 1) * std::pow(eta, s)));
      const Index configs = std::min(n, trials - placed);
      brackets.push_back({configs, rungs_from(static_cast<double>(max_budget) / std::pow(eta, s))});
      placed += configs;
    }
  }
  return brackets;
}

SearchRun run_search_loop(const SearchPlan& plan, TrialEvaluator& evaluator, const SearchHooks& hooks) {
  SearchRun run;
  run.trials.resize(static_cast<std::size_t>(plan.strategy->trial_count()));
  Executor executor(evaluator, hooks, run, plan);
  if (plan.scheduler.type == "none") {
    run_generations(plan, executor, run);
  } else {
    run_brackets(plan, evaluator, executor, run);
  }
  if (executor.stop_requested()) run.interrupted = true;
  return run;
}

}  // namespace dlrun
