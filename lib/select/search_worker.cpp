#include "select/search_worker.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "config/emit.hpp"
#include "config/overrides.hpp"
#include "core/threads.hpp"
#include "io/files.hpp"
#include "select/journal.hpp"
#include "select/journal_lock.hpp"
#include "select/search_directory.hpp"
#include "select/search_outputs.hpp"
#include "select/training_evaluator.hpp"
#include "select/worker_queue.hpp"
#include "train/early_stopping.hpp"

namespace dlrun {
namespace {

namespace fs = std::filesystem;

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// What a search directory may hold before its journal has its header: a new folder, or one whose
// first worker was killed while creating it.
bool holds_no_other_files(const fs::path& directory) {
  for (const auto& entry : fs::directory_iterator(directory)) {
    const std::string name = entry.path().filename().string();
    if (name != "journal.lock" && name != kJournalFile && name != "config.yaml" && name != "workers" &&
        name.find(".tmp-") == std::string::npos) {
      return false;
    }
  }
  return true;
}

// The journal's finished trials as the search loop records them, by trial number (a record with
// trial 0 where none finished).
std::vector<TrialRecord> finished_records(const JournalContents& journal, Index total) {
  std::vector<TrialRecord> records(static_cast<std::size_t>(total));
  for (const auto& [key, finished] : journal.finished) {
    if (key.second != 0 || key.first < 1 || key.first > total) continue;
    TrialRecord& record = records[static_cast<std::size_t>(key.first - 1)];
    record.trial = key.first;
    record.point = finished.point;
    record.outcome = finished.outcome;
    record.status = finished.outcome.status;
    record.seconds = finished.outcome.seconds;
  }
  return records;
}

// What a strategy sees before proposing a trial that waits for trials 1 .. sees - 1: exactly the
// history the serial search loop (search_runner.cpp, run_generations) gives it.
std::vector<Observation> history_before(const JournalContents& journal, Index sees, bool maximize) {
  std::vector<Observation> history;
  for (Index trial = 1; trial < sees; ++trial) {
    const JournalContents::Finished& finished = journal.finished.at({trial, 0});
    const bool ok = finished.outcome.status == "completed";
    const double metric = finished.outcome.metric;
    history.push_back({finished.point, ok ? (maximize ? metric : -metric) : 0.0, !ok});
  }
  return history;
}

bool all_finished(const JournalContents& journal, Index total) {
  for (Index trial = 1; trial <= total; ++trial) {
    if (!journal.finished.contains({trial, 0})) return false;
  }
  return true;
}

// The code a search where no trial completed exits with: the first failed trial's.
int failure_code(const JournalContents& journal) {
  for (const auto& [key, finished] : journal.finished) {
    if (finished.outcome.status == "failed" && finished.outcome.exit_code != 0)
      return finished.outcome.exit_code;
  }
  return 1;
}

class Worker {
 public:
  Worker(const Config& config, const SearchSpace& space, Strategy& strategy, const SearchOptions& options,
         const WorkerOptions& worker)
      : config_(config),
        space_(space),
        strategy_(strategy),
        options_(options),
        directory_(worker.directory),
        lease_(worker.lease_seconds),
        self_(WorkerIdentity::of_this_process()),
        maximize_(config.search.mode == "auto" ? metric_is_maximized(config.search.metric)
                                               : config.search.mode == "max"),
        lock_(directory_ / "journal.lock"),
        journal_(directory_ / kJournalFile),
        reader_(directory_ / kJournalFile) {}

  // Writes config.yaml and the journal's header unless a worker did; checks the config otherwise.
  void initialise() {
    std::lock_guard guard(lock_);
    const fs::path path = journal_.path();
    cut_torn_tail(path);
    std::error_code error;
    const bool started = fs::exists(path, error) && fs::file_size(path, error) > 0;
    if (!started) {
      if (!holds_no_other_files(directory_)) {
        throw OutputError(directory_.string() +
                          ": holds files but no search journal; --journal needs a new or empty folder, or "
                          "the directory of a search");
      }
      check_directory_writable(directory_);
      write_text_atomic(directory_ / "config.yaml", to_yaml(config_.tree));
      nlohmann::json header = search_journal_header(config_, space_);
      header["created"] = now_seconds();
      journal_.header(header);
    } else {
      check_same_search_config(config_, directory_, false);
    }
    if (reader_.refresh().header.is_null()) throw DataError(path.string() + ": an empty search journal");
  }

  // Takes and trains trials on `jobs` threads until none is left or the stop flag rises.
  void run(Index jobs) {
    log("worker " + self_.id + " in " + directory_.string() + ": " + config_.search.strategy + ", " +
        std::to_string(strategy_.trial_count()) + " trials, " + config_.search.metric + " (" +
        (maximize_ ? "max" : "min") + "), lease " + format_number(lease_) + " s, " + std::to_string(jobs) +
        " job(s)");
    EvaluatorSettings settings;
    settings.metric = config_.search.metric;
    settings.cv = config_.search.evaluate == "cv";
    settings.stop_flag = options_.stop_flag;
    TrainingEvaluator evaluator(space_, config_, settings);
    std::thread heartbeat([this] { beat_until_stopped(); });
    try {
      run_tasks(jobs, static_cast<int>(jobs), [&](Index) { take_trials(evaluator); });
    } catch (...) {
      stop_heartbeat(heartbeat);
      throw;
    }
    stop_heartbeat(heartbeat);
  }

  SearchOutcome outcome() {
    SearchOutcome outcome;
    outcome.directory = directory_;
    const fs::path summary_file = directory_ / kSummaryFile;
    std::lock_guard guard(lock_);
    const JournalContents& journal = reader_.refresh();
    if (!interrupted_ && fs::exists(summary_file)) {
      std::ifstream in(summary_file);
      outcome.summary = nlohmann::json::parse(in, nullptr, false);
    }
    if (!outcome.summary.is_object()) {
      outcome.summary = {{"command", "search"}, {"search_dir", directory_.string()}};
    }
    if (interrupted_) {
      outcome.summary["status"] = "interrupted";
      outcome.exit_code = 130;
    } else if (final_exit_code_) {
      outcome.exit_code = *final_exit_code_;
    } else {
      outcome.exit_code = outcome.summary.value("status", "") == "completed" ? 0 : failure_code(journal);
    }
    outcome.summary["worker"] = {{"id", self_.id}, {"trials", ran_}};
    return outcome;
  }

 private:
  enum class Step { trained, wait, done };

  void log(const std::string& line) const {
    if (options_.log) options_.log(line);
  }
  bool stopping() const { return aborted_ || (options_.stop_flag && options_.stop_flag->load()); }

  // Runs body(contents) holding the lock, on the journal as it is now.
  template <typename Body>
  auto locked(Body&& body) {
    std::lock_guard guard(lock_);
    cut_torn_tail(journal_.path());
    return body(reader_.refresh());
  }

  void take_trials(TrainingEvaluator& evaluator) {
    try {
      while (!stopping()) {
        const Step step = take_one(evaluator);
        if (step == Step::done) return;
        if (step == Step::wait) pause();
      }
      if (options_.stop_flag && options_.stop_flag->load()) interrupted_ = true;
    } catch (...) {
      aborted_ = true;  // the other jobs stop too
      throw;
    }
  }

  // Sleeps a poll interval (an eighth of the lease, 0.05 to 1 s), waking early when stopped.
  void pause() const {
    const auto until =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(std::clamp(lease_ / 8.0, 0.05, 1.0));
    while (!stopping() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // Claims the next free trial, trains it and records it; or says why there is none to claim.
  Step take_one(TrainingEvaluator& evaluator) {
    Index trial = 0;
    Point point;
    const Step claimed = locked([&](const JournalContents& journal) {
      const QueueDecision decision = next_trial(journal, strategy_, now_seconds(), [&](const Claim& claim) {
        return claim_process_gone(claim, self_);
      });
      if (decision.kind == QueueDecision::Kind::done) {
        finish_search(journal);
        return Step::done;
      }
      if (decision.kind == QueueDecision::Kind::wait) return Step::wait;
      trial = decision.trial;
      point = strategy_.propose(trial, history_before(journal, strategy_.sees_before(trial), maximize_));
      journal_.started(trial, 0, point, params_json(space_, point), self_.claim(now_seconds() + lease_));
      held_.insert(trial);
      if (!decision.taken_from.empty()) {
        log("trial " + std::to_string(trial) + ": taken over from worker " + decision.taken_from + " (" +
            decision.why_taken + ")");
      }
      return Step::trained;
    });
    if (claimed != Step::trained) return claimed;

    const TrialOutcome outcome = evaluator.evaluate(trial, point, 0);
    locked([&](const JournalContents& journal) {
      held_.erase(trial);
      if (outcome.status == "interrupted") {  // not finished: another worker trains it again
        journal_.append({{"event", "release"}, {"trial", trial}, {"budget", 0}, {"worker", self_.id}});
        interrupted_ = true;
        return;
      }
      if (const auto other = journal.finished.find({trial, 0}); other != journal.finished.end()) {
        log("trial " + std::to_string(trial) + ": already finished by worker " + other->second.worker +
            " (this worker's lease had expired); this result is dropped");
        return;
      }
      TrialRecord record;
      record.trial = trial;
      record.point = point;
      record.outcome = outcome;
      record.status = outcome.status;
      record.seconds = outcome.seconds;
      journal_.finished(record, params_json(space_, point), self_.id);
      ran_.push_back(trial);
      const JournalContents& now = reader_.refresh();
      write_text_atomic(
          directory_ / "trials.csv",
          trials_csv(space_, config_.search.metric, finished_records(now, strategy_.trial_count())));
      log(describe_trial(space_, record, config_.search.metric));
      if (options_.on_trial) options_.on_trial(trial_line(record));
      finish_search(now);
    });
    return Step::trained;
  }

  nlohmann::json trial_line(const TrialRecord& record) const {
    const double metric = record.outcome.metric;
    return {{"trial", record.trial},
            {"params", params_json(space_, record.point)},
            {"status", record.status},
            {"metric", std::isfinite(metric) ? nlohmann::json(metric) : nlohmann::json(nullptr)},
            {"epochs", record.outcome.epochs},
            {"seconds", record.seconds},
            {"error", record.outcome.error},
            {"worker", self_.id}};
  }

  // Under the lock: once every trial has finished, the first worker to see it writes the outputs
  // (the replay of --resume, which trains nothing), so exactly one process does.
  void finish_search(const JournalContents& journal) {
    if (!all_finished(journal, strategy_.trial_count()) || fs::exists(directory_ / kSummaryFile)) return;
    SearchOptions replay;
    replay.resume = directory_;
    std::set<std::string> workers;
    Index restarted = 0;
    for (const auto& [key, finished] : journal.finished) workers.insert(finished.worker);
    for (const auto& [trial, starts] : journal.starts) restarted += starts > 1;
    replay.summary_extra = {{"workers", {{"count", workers.size()}, {"restarted_trials", restarted}}}};
    if (journal.header.contains("created")) {
      replay.summary_extra["seconds"] = now_seconds() - journal.header["created"].get<double>();
    }
    final_exit_code_ = run_search(config_, replay).exit_code;
    log("every trial has finished: trials.csv, best.yaml and summary.json written by worker " + self_.id);
  }

  // Every quarter lease, while it holds claims: a heartbeat line that extends their leases.
  void beat_until_stopped() {
    const auto period = std::chrono::duration<double>(lease_ / 4.0);
    std::unique_lock wait(beat_mutex_);
    while (!beat_stop_.wait_for(wait, period, [this] { return heartbeat_done_; })) {
      wait.unlock();
      try {
        locked([&](const JournalContents&) {
          if (!held_.empty()) {
            journal_.append({{"event", "alive"}, {"worker", self_.id}, {"until", now_seconds() + lease_}});
          }
        });
      } catch (const std::exception& error) {  // the claims may lapse; the next write reports the cause
        log(std::string("heartbeat failed: ") + error.what());
      }
      wait.lock();
    }
  }

  void stop_heartbeat(std::thread& heartbeat) {
    {
      std::lock_guard guard(beat_mutex_);
      heartbeat_done_ = true;
    }
    beat_stop_.notify_all();
    heartbeat.join();
  }

  const Config& config_;
  const SearchSpace& space_;
  Strategy& strategy_;  // proposals under the lock only
  const SearchOptions& options_;
  fs::path directory_;
  double lease_;
  WorkerIdentity self_;
  bool maximize_;
  JournalLock lock_;
  // Under lock_:
  Journal journal_;
  JournalReader reader_;
  std::set<Index> held_;    // trials this worker trains now
  std::vector<Index> ran_;  // trials it finished
  std::optional<int> final_exit_code_;
  std::atomic<bool> interrupted_ = false;
  std::atomic<bool> aborted_ = false;
  std::mutex beat_mutex_;
  std::condition_variable beat_stop_;
  bool heartbeat_done_ = false;
};

}  // namespace

SearchOutcome run_search_worker(const Config& config, const SearchOptions& options,
                                const WorkerOptions& worker) {
  const SearchConfig& search = config.search;
  if (options.refit) {
    throw ConfigError(
        "--worker: --refit needs every trial; once the workers are done, run `dlrun search CONFIG --resume "
        "DIR --refit`");
  }
  if (options.outer_folds > 0)
    throw ConfigError("--worker: nested cross-validation (--outer-folds) runs in one process");
  if (search.scheduler.type != "none") {
    const Node* node = find_path(config.tree, "search.scheduler");
    throw ConfigError(node ? node->where() : Location{config.file.string(), 0, 0},
                      "search.scheduler: successive halving and Hyperband keep promoted trials in memory "
                      "between rungs, which workers cannot share; run them without --worker");
  }
  if (!(worker.lease_seconds > 0.0)) throw ConfigError("--lease must be a positive number of seconds");
  const SearchSpace space = checked_search_space(config, options);
  const auto strategy = make_strategy(search, space, config.seed);

  std::error_code error;
  fs::create_directories(worker.directory, error);
  if (error || !fs::is_directory(worker.directory)) {
    throw OutputError(worker.directory.string() + ": cannot create the search directory" +
                      (error ? ": " + error.message() : ""));
  }
  Worker one(config, space, *strategy, options, worker);
  one.initialise();
  if (!worker.work) {
    SearchOutcome outcome;
    outcome.directory = worker.directory;
    outcome.summary = {{"command", "search"},
                       {"search_dir", worker.directory.string()},
                       {"status", "initialised"},
                       {"strategy", search.strategy},
                       {"trials", strategy->trial_count()}};
    return outcome;
  }
  if (options.on_directory) options.on_directory(worker.directory);
  one.run(std::max<Index>(1, options.jobs));
  return one.outcome();
}

}  // namespace dlrun
