// The search loop on a synthetic evaluator (learning curves, no training): generations and jobs,
// failed trials, replay of journaled trials, successive halving and Hyperband.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <mutex>
#include <set>

#include "config/yaml_loader.hpp"
#include "select/search_runner.hpp"
#include "select/search_test_support.hpp"
#include "support/shuffled_farm.hpp"

using namespace dlrun;
using dlrun::testing::space_of;

namespace {

const char* const kSpace =
    "space:\n"
    "  lr: {loguniform: [1.0e-4, 1.0]}\n"
    "  units: {choice: [8, 16, 32]}\n";

// Accuracy that rises with epochs towards a ceiling set by the point; lr > 0.5 "diverges".
class CurveEvaluator final : public TrialEvaluator {
 public:
  TrialOutcome evaluate(Index trial, const Point& point, Index epochs) override {
    std::lock_guard lock(mutex_);
    calls.push_back({trial, epochs});
    if (epochs == 0) epochs = default_epochs;
    TrialOutcome outcome;
    if (point[0] > 0.5) {
      outcome.status = "failed";
      outcome.error = "training diverged";
      return outcome;
    }
    const Index before = kept.contains(trial) ? kept[trial] : 0;
    kept[trial] = epochs;
    outcome.epochs = epochs;
    outcome.new_epochs = epochs - before;
    const double ceiling = 1.0 - 0.1 * std::abs(std::log10(point[0]) + 2.0) - 0.05 * point[1];
    outcome.metric = ceiling * (1.0 - std::exp(-static_cast<double>(epochs) / 4.0));
    return outcome;
  }
  void release(Index trial) override {
    std::lock_guard lock(mutex_);
    kept.erase(trial);
  }
  std::vector<std::pair<Index, Index>> calls;
  std::map<Index, Index> kept;
  Index default_epochs = 20;

 private:
  std::mutex mutex_;
};

SearchPlan plan_of(Strategy* strategy, const SchedulerConfig& scheduler, Index max_epochs, Index jobs = 1) {
  SearchPlan plan;
  plan.strategy = strategy;
  plan.scheduler = scheduler;
  plan.max_epochs = max_epochs;
  plan.jobs = jobs;
  return plan;
}

SearchRun run(const SearchSpace& space, SearchConfig config, TrialEvaluator& evaluator, Index jobs,
              const SearchHooks& hooks = {}) {
  const auto strategy = make_strategy(config, space, 3);
  return run_search_loop(plan_of(strategy.get(), config.scheduler, 20, jobs), evaluator, hooks);
}

}  // namespace

TEST_CASE("search loop on a farm of ranks (MPI's path): the trials and results of one process") {
  const SearchSpace space = space_of(kSpace);
  for (const std::string strategy : {"random", "bayes"}) {
    CAPTURE(strategy);
    SearchConfig config;
    config.strategy = strategy;
    config.trials = 12;
    config.bayes.startup_trials = 4;
    config.bayes.batch = 3;
    CurveEvaluator local, remote, unused;
    const SearchRun a = run(space, config, local, 1);
    const auto strategy_object = make_strategy(config, space, 3);
    testing::ShuffledFarm farm(3, [&](const nlohmann::json& task) {
      CHECK(task.at("context") == nlohmann::json{{"metric", "m"}});
      return outcome_json(remote.evaluate(task.at("trial").get<Index>(), task.at("point").get<Point>(),
                                          task.at("budget").get<Index>()));
    });
    SearchPlan plan = plan_of(strategy_object.get(), config.scheduler, 20);
    plan.farm = &farm;
    plan.farm_context = {{"metric", "m"}};
    const SearchRun b = run_search_loop(plan, unused, {});
    CHECK(unused.calls.empty());  // nothing trained on rank 0
    CHECK(farm.answered == 12);
    REQUIRE(b.trials.size() == a.trials.size());
    for (std::size_t i = 0; i < a.trials.size(); ++i) {
      CHECK(a.trials[i].point == b.trials[i].point);
      CHECK(a.trials[i].status == b.trials[i].status);
      CHECK(std::isnan(a.trials[i].outcome.metric) == std::isnan(b.trials[i].outcome.metric));
      if (!std::isnan(a.trials[i].outcome.metric))
        CHECK(a.trials[i].outcome.metric == b.trials[i].outcome.metric);
    }
    CHECK(a.total_epochs == b.total_epochs);
  }
}

TEST_CASE("search loop: every trial runs once; results do not depend on --jobs; failures are recorded") {
  const SearchSpace space = space_of(kSpace);
  for (const std::string strategy : {"random", "bayes"}) {
    CAPTURE(strategy);
    SearchConfig config;
    config.strategy = strategy;
    config.trials = 24;
    config.bayes.startup_trials = 6;
    config.bayes.batch = 4;
    CurveEvaluator one, four;
    const SearchRun a = run(space, config, one, 1);
    const SearchRun b = run(space, config, four, 4);
    REQUIRE(a.trials.size() == 24);
    CHECK(one.calls.size() == 24);
    CHECK(four.calls.size() == 24);
    int failed = 0;
    for (std::size_t i = 0; i < a.trials.size(); ++i) {
      CHECK(a.trials[i].trial == static_cast<Index>(i + 1));
      CHECK(a.trials[i].point == b.trials[i].point);
      CHECK(a.trials[i].status == b.trials[i].status);
      if (a.trials[i].status == "failed") {
        ++failed;
        CHECK(a.trials[i].outcome.error == "training diverged");
      }
    }
    CHECK(failed > 0);  // lr > 0.5 is about 8% of a log-uniform [1e-4, 1]
    CHECK(a.total_epochs == 20 * (24 - failed));
  }
}

TEST_CASE("search loop: journaled trials are replayed, not trained; hooks see starts and finishes") {
  const SearchSpace space = space_of(kSpace);
  SearchConfig config;
  config.trials = 6;
  CurveEvaluator first;
  const SearchRun full = run(space, config, first, 1);
  CurveEvaluator second;
  SearchHooks hooks;
  std::set<Index> started, finished;
  hooks.recorded = [&](Index trial, Index budget, const Point& point) -> std::optional<TrialOutcome> {
    CHECK(point == full.trials[static_cast<std::size_t>(trial - 1)].point);
    if (trial % 2 == 0 || budget != 0) return std::nullopt;
    return full.trials[static_cast<std::size_t>(trial - 1)].outcome;
  };
  hooks.on_start = [&](Index trial, Index, const Point&) { started.insert(trial); };
  hooks.on_finish = [&](const TrialRecord& record) { finished.insert(record.trial); };
  const SearchRun resumed = run(space, config, second, 2, hooks);
  CHECK(second.calls.size() == 3);
  CHECK(started == std::set<Index>{2, 4, 6});
  CHECK(finished.size() == 6);
  for (std::size_t i = 0; i < 6; ++i) {
    CHECK(resumed.trials[i].status == full.trials[i].status);
    if (full.trials[i].status == "completed")
      CHECK(resumed.trials[i].outcome.metric == full.trials[i].outcome.metric);
    CHECK(resumed.trials[i].replayed == (i % 2 == 0));
  }
}

TEST_CASE("brackets: successive halving and Hyperband budgets") {
  SchedulerConfig sh{"successive_halving", 1, 9, 3};
  const auto one = plan_brackets(sh, 20, 9);
  REQUIRE(one.size() == 1);
  CHECK(one[0].configs == 9);
  CHECK(one[0].budgets == std::vector<Index>{1, 3, 9});
  // Hyperband with R = 27, eta = 3 (Li et al. 2018, Table 1): n = 27, 12, 6, 4 from r = 1, 3, 9, 27.
  SchedulerConfig hb{"hyperband", 1, 27, 3};
  const auto brackets = plan_brackets(hb, 20, 52);
  REQUIRE(brackets.size() == 5);
  CHECK(brackets[0].configs == 27);
  CHECK(brackets[0].budgets == std::vector<Index>{1, 3, 9, 27});
  CHECK(brackets[1].configs == 12);
  CHECK(brackets[1].budgets == std::vector<Index>{3, 9, 27});
  CHECK(brackets[2].configs == 6);
  CHECK(brackets[3].configs == 4);
  CHECK(brackets[3].budgets == std::vector<Index>{27});
  CHECK(brackets[4].configs == 3);  // the next round, cut to the trials left
  // max_epochs 0 means train.epochs; budgets never repeat when eta steps round to the same epoch.
  const auto short_run = plan_brackets(SchedulerConfig{"successive_halving", 2, 0, 2}, 5, 4);
  CHECK(short_run[0].budgets == std::vector<Index>{2, 4, 5});
}

TEST_CASE("successive halving: the best third goes on, continuing its training; the rest stop") {
  const SearchSpace space = space_of(kSpace);
  SearchConfig config;
  config.trials = 9;
  config.scheduler = {"successive_halving", 1, 9, 3};
  CurveEvaluator evaluator;
  const SearchRun result = run(space, config, evaluator, 3);
  std::map<Index, std::vector<Index>> budgets;  // trial -> budgets it was trained to
  for (const auto& [trial, epochs] : evaluator.calls) budgets[trial].push_back(epochs);
  std::vector<Index> at_three, at_nine;
  for (const auto& [trial, list] : budgets) {
    if (list.size() >= 2) at_three.push_back(trial);
    if (list.size() == 3) at_nine.push_back(trial);
  }
  const auto completed_first_rung =
      std::count_if(result.trials.begin(), result.trials.end(), [](auto& r) { return r.status != "failed"; });
  // floor(9 / 3) = 3 go on, failed trials ranked last and never promoted.
  CHECK(at_three.size() == static_cast<std::size_t>(std::min<Index>(3, completed_first_rung)));
  REQUIRE(at_nine.size() == 1);
  // The promoted trials were the best at the first rung (the curve preserves the ranking).
  const TrialRecord& winner = result.trials[static_cast<std::size_t>(at_nine[0] - 1)];
  CHECK(winner.status == "completed");
  CHECK(winner.outcome.epochs == 9);
  for (const TrialRecord& record : result.trials) {
    if (record.trial == winner.trial || record.status == "failed") continue;
    CHECK(record.status == "stopped");
    CHECK(record.outcome.metric <= winner.outcome.metric);
  }
  // Continued, not restarted: 1 epoch each, then 2 more for the promoted, then 6 more for the winner.
  const Index first_rung = completed_first_rung;
  CHECK(result.total_epochs == first_rung + 2 * static_cast<Index>(at_three.size()) + 6);
  CHECK(evaluator.kept.empty());  // every trial's kept state was released
}

TEST_CASE("hyperband reaches the best of random search with fewer epochs on learning curves") {
  const SearchSpace space = space_of(kSpace);
  SearchConfig random;
  random.trials = 30;
  CurveEvaluator random_evaluator;
  random_evaluator.default_epochs = 27;
  const auto random_strategy = make_strategy(random, space, 3);
  const SearchRun full =
      run_search_loop(plan_of(random_strategy.get(), random.scheduler, 27), random_evaluator, {});
  double random_best = -1.0;
  for (const auto& record : full.trials) {
    if (record.status == "completed") random_best = std::max(random_best, record.outcome.metric);
  }
  SearchConfig hyperband = random;
  hyperband.trials = 49;  // brackets of 27, 12, 6, 4 trials
  hyperband.scheduler = {"hyperband", 1, 27, 3};
  CurveEvaluator hb_evaluator;
  const auto hb_strategy = make_strategy(hyperband, space, 3);
  const SearchRun hb = run_search_loop(plan_of(hb_strategy.get(), hyperband.scheduler, 27), hb_evaluator, {});
  double hb_best = -1.0;
  for (const auto& record : hb.trials) {
    if (record.status == "completed") hb_best = std::max(hb_best, record.outcome.metric);
  }
  MESSAGE("random: best ", random_best, " in ", full.total_epochs, " epochs; hyperband: best ", hb_best,
          " in ", hb.total_epochs, " epochs");
  CHECK(hb.total_epochs < full.total_epochs);
  CHECK(hb_best >= random_best - 0.01);
}

TEST_CASE(
    "BOHB (bayes with Hyperband): the model steers the later brackets; same trials for --jobs and resume") {
  const SearchSpace space = space_of(kSpace);  // d = 2: a budget needs 5 completed evaluations
  SearchConfig config;
  config.strategy = "bayes";
  config.trials = 49;  // one round: brackets of 27, 12, 6 and 4 trials
  config.scheduler = {"hyperband", 1, 27, 3};
  std::map<std::pair<Index, Index>, TrialOutcome> journal;
  SearchHooks record;
  record.on_finish = [&](const TrialRecord& r) { journal[{r.trial, r.budget}] = r.outcome; };
  CurveEvaluator serial_evaluator;
  const SearchRun serial = run(space, config, serial_evaluator, 1, record);
  CurveEvaluator parallel_evaluator;
  const SearchRun parallel = run(space, config, parallel_evaluator, 3);
  // Resumed after the first bracket: its evaluations are replayed and the later brackets proposed
  // from them again.
  SearchHooks replay;
  replay.recorded = [&](Index trial, Index budget, const Point&) -> std::optional<TrialOutcome> {
    const auto found = journal.find({trial, budget});
    if (trial > 27 || found == journal.end()) return std::nullopt;
    return found->second;
  };
  CurveEvaluator resumed_evaluator;
  const SearchRun resumed = run(space, config, resumed_evaluator, 2, replay);
  for (const auto& [trial, epochs] : resumed_evaluator.calls) CHECK(trial > 27);
  CHECK(!resumed_evaluator.calls.empty());
  for (std::size_t i = 0; i < serial.trials.size(); ++i) {
    CAPTURE(i);
    CHECK(parallel.trials[i].point == serial.trials[i].point);
    CHECK(resumed.trials[i].point == serial.trials[i].point);
    CHECK(parallel.trials[i].status == serial.trials[i].status);
    CHECK(resumed.trials[i].status == serial.trials[i].status);
    if (serial.trials[i].status != "failed") {
      CHECK(parallel.trials[i].outcome.metric == serial.trials[i].outcome.metric);
      CHECK(resumed.trials[i].outcome.metric == serial.trials[i].outcome.metric);
    }
  }
  // The first bracket is random search's trials; the later ones' (after the model has 9
  // evaluations at 3 epochs) reach higher ceilings than Hyperband's random ones.
  SearchConfig hyperband = config;
  hyperband.strategy = "random";
  CurveEvaluator hb_evaluator;
  const SearchRun plain = run(space, hyperband, hb_evaluator, 1);
  auto final_accuracy = [](const Point& point) {  // the curve's ceiling; a diverged trial 0
    return point[0] > 0.5 ? 0.0 : 1.0 - 0.1 * std::abs(std::log10(point[0]) + 2.0) - 0.05 * point[1];
  };
  double bohb_total = 0.0, random_total = 0.0;
  for (std::size_t i = 0; i < serial.trials.size(); ++i) {
    if (i < 27) {
      CHECK(serial.trials[i].point == plain.trials[i].point);
      continue;
    }
    bohb_total += final_accuracy(serial.trials[i].point);
    random_total += final_accuracy(plain.trials[i].point);
  }
  MESSAGE("mean ceiling of trials 28-49: BOHB ", bohb_total / 22, ", Hyperband (random) ", random_total / 22);
  CHECK(bohb_total > random_total);
}

TEST_CASE("successive halving resumed from its journal replays every rung and trains nothing") {
  const SearchSpace space = space_of(kSpace);
  SearchConfig config;
  config.trials = 9;
  config.scheduler = {"successive_halving", 1, 9, 3};
  CurveEvaluator first;
  std::map<std::pair<Index, Index>, TrialOutcome> journal;
  SearchHooks record;
  record.on_finish = [&](const TrialRecord& r) { journal[{r.trial, r.budget}] = r.outcome; };
  const SearchRun full = run(space, config, first, 2, record);
  CurveEvaluator second;
  SearchHooks replay;
  replay.recorded = [&](Index trial, Index budget, const Point&) -> std::optional<TrialOutcome> {
    const auto found = journal.find({trial, budget});
    return found == journal.end() ? std::nullopt : std::optional(found->second);
  };
  const SearchRun resumed = run(space, config, second, 1, replay);
  CHECK(second.calls.empty());
  for (std::size_t i = 0; i < full.trials.size(); ++i) {
    CHECK(resumed.trials[i].status == full.trials[i].status);
    CHECK(resumed.trials[i].outcome.epochs == full.trials[i].outcome.epochs);
  }
}
