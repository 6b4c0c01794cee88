// End-to-end: search workers without MPI (`dlrun search CONFIG --journal DIR --worker`). Several
// worker processes on one journal give the serial search's trials.csv and best.yaml (grid and
// bayes); a worker killed with SIGKILL mid-trial has its trial taken over by another; a plain
// `--journal DIR` creates the directory, and a worker with another config is refused.
#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>

#include "e2e/background_run.hpp"
#include "e2e/e2e_support.hpp"
#include "support/messages.hpp"

using namespace dlrun::testing;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::vector<nlohmann::json> journal_lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) {
    const auto entry = nlohmann::json::parse(line, nullptr, false);
    if (!entry.is_discarded()) lines.push_back(entry);
  }
  return lines;
}

// Starts `count` workers on `directory` at once and waits for them; returns their stdout texts.
std::vector<std::string> run_workers(const TempDir& dir, const fs::path& config, const fs::path& directory,
                                     int count) {
  std::vector<std::unique_ptr<BackgroundRun>> workers;
  for (int i = 0; i < count; ++i) {
    const std::string tag = directory.filename().string() + std::to_string(i);
    workers.push_back(std::make_unique<BackgroundRun>(
        "search " + config.string() + " --quiet --threads 1 --journal " + directory.string() + " --worker",
        dir / ("out-" + tag), dir / ("err-" + tag)));
  }
  std::vector<std::string> outs;
  for (int i = 0; i < count; ++i) {
    const std::string tag = directory.filename().string() + std::to_string(i);
    CHECK_MESSAGE(workers[static_cast<std::size_t>(i)]->wait() == 0, read_bytes(dir / ("err-" + tag)));
    outs.push_back(read_bytes(dir / ("out-" + tag)));
  }
  return outs;
}

// Serial search and `workers` workers on the same config: the same trials, best.yaml and counts.
void check_workers_match_serial(const TempDir& dir, const fs::path& config, const std::string& name,
                                int workers, int trials) {
  const fs::path serial = dir / (name + "-serial");
  const auto one = run_dlrun("search " + config.string() + " --quiet --threads 1 --out " + serial.string());
  REQUIRE_MESSAGE(one.exit_code == 0, one.err);
  const fs::path shared = dir / (name + "-workers");
  const std::vector<std::string> outs = run_workers(dir, config, shared, workers);
  CHECK(csv_rows_without_column(serial / "trials.csv", "seconds") ==
        csv_rows_without_column(shared / "trials.csv", "seconds"));
  CHECK(read_bytes(serial / "best.yaml") == read_bytes(shared / "best.yaml"));
  const auto summary = nlohmann::json::parse(read_bytes(shared / "summary.json"));
  CHECK(summary["status"] == "completed");
  CHECK(summary["completed"] == trials);
  CHECK(summary["best"] == last_json_line(one.out)["best"]);
  // Every worker ends with the search's summary and the trials it ran; together, each trial once.
  std::multiset<int> ran;
  for (const std::string& out : outs) {
    const auto line = last_json_line(out);
    CHECK(line["best"] == summary["best"]);
    for (const auto& trial : line["worker"]["trials"]) ran.insert(trial.get<int>());
  }
  CHECK(ran.size() == static_cast<std::size_t>(trials));
  CHECK(std::set<int>(ran.begin(), ran.end()).size() == static_cast<std::size_t>(trials));
}

}  // namespace

TEST_CASE("e2e search workers: three workers on one journal give the serial grid and bayes searches") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 60);
  const auto grid =
      dir.write("grid.yaml",
                tiny_csv_config(csv, std::string("train: {epochs: 4, batch_size: 16}\n") + kTinyGridSearch));
  check_workers_match_serial(dir, grid, "grid", 3, 8);
  // Bayes: the model's trials wait for the trials they are proposed from, so they are the serial ones.
  const auto bayes =
      dir.write("bayes.yaml", tiny_csv_config(csv,
                                              "train: {epochs: 3, batch_size: 16}\n"
                                              "search:\n"
                                              "  strategy: bayes\n"
                                              "  trials: 6\n"
                                              "  bayes: {startup_trials: 2, batch: 2}\n"
                                              "  space:\n"
                                              "    optimizer.lr: {loguniform: [1.0e-3, 1.0e-1]}\n"
                                              "    model.layers.hidden.units: {int: [2, 12]}\n"));
  check_workers_match_serial(dir, bayes, "bayes", 2, 6);
}

TEST_CASE("e2e search workers: --journal alone creates the directory; another config is refused") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 60);
  const std::string space =
      "search:\n"
      "  strategy: random\n"
      "  trials: 3\n"
      "  space:\n"
      "    optimizer.lr: {loguniform: [1.0e-3, 1.0e-1]}\n";
  const auto config = dir.write("c.yaml", tiny_csv_config(csv, "train: {epochs: 2}\n" + space));
  const fs::path shared = dir / "shared";
  const auto created = run_dlrun("search " + config.string() + " --quiet --journal " + shared.string());
  REQUIRE_MESSAGE(created.exit_code == 0, created.err);
  CHECK(last_json_line(created.out)["status"] == "initialised");
  CHECK(last_json_line(created.out)["trials"] == 3);
  REQUIRE(journal_lines(shared / "journal.jsonl").size() == 1);  // the header only: nothing trained
  CHECK(fs::exists(shared / "config.yaml"));
  CHECK(!fs::exists(shared / "summary.json"));

  const auto other = dir.write("o.yaml", tiny_csv_config(csv, "train: {epochs: 3}\n" + space));
  const auto refused =
      run_dlrun("search " + other.string() + " --quiet --journal " + shared.string() + " --worker");
  CHECK(refused.exit_code == 2);
  CHECK_MESSAGE(contains(refused.err, "differs from the config of the search"), refused.err);
  const auto halving = dir.write(
      "h.yaml", tiny_csv_config(csv, "train: {epochs: 3}\n" + space + "  scheduler: successive_halving\n"));
  const auto no_scheduler =
      run_dlrun("search " + halving.string() + " --quiet --journal " + (dir / "h").string() + " --worker");
  CHECK(no_scheduler.exit_code == 2);
  CHECK_MESSAGE(contains(no_scheduler.err, "search.scheduler"), no_scheduler.err);
  const auto not_empty = run_dlrun("search " + config.string() + " --quiet --journal " + dir.path().string());
  CHECK(not_empty.exit_code == 5);
  CHECK_MESSAGE(contains(not_empty.err, "no search journal"), not_empty.err);
  const auto with_resume = run_dlrun("search " + config.string() + " --quiet --journal " + shared.string() +
                                     " --resume " + shared.string());
  CHECK(with_resume.exit_code == 2);
}

TEST_CASE("e2e search workers: a worker killed with SIGKILL mid-trial has its trial finished by another") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 300);
  const auto config = dir.write("c.yaml", tiny_csv_config(csv,
                                                          "train: {epochs: 25, batch_size: 8}\n"
                                                          "search:\n"
                                                          "  strategy: random\n"
                                                          "  trials: 6\n"
                                                          "  space:\n"
                                                          "    optimizer.lr: {loguniform: [1.0e-3, 1.0e-1]}\n"
                                                          "    model.layers.hidden.units: {int: [4, 16]}\n"));
  const fs::path shared = dir / "shared";
  const fs::path journal = shared / "journal.jsonl";
  const std::string worker = "search " + config.string() + " --quiet --threads 1 --journal " +
                             shared.string() +
                             " --worker --lease 600";  // a lease far longer than the test: the pid decides
  BackgroundRun victim(worker, dir / "out-victim", dir / "err-victim");
  BackgroundRun survivor(worker, dir / "out-survivor", dir / "err-survivor");
  // The victim's trial in progress: its latest claim without a finish.
  auto victim_trial = [&]() -> int {
    std::map<int, std::string> claimed_by;
    std::set<int> finished;
    for (const auto& line : journal_lines(journal)) {
      if (line["event"] == "start") claimed_by[line["trial"].get<int>()] = line.value("worker", "");
      if (line["event"] == "finish") finished.insert(line["trial"].get<int>());
    }
    for (const auto& [trial, who] : claimed_by) {
      if (!finished.contains(trial) && who.ends_with(":" + std::to_string(victim.pid()))) return trial;
    }
    return 0;
  };
  REQUIRE(wait_until([&] { return victim_trial() != 0; }, 60s));
  victim.send(SIGKILL);
  CHECK(victim.wait() == 128 + SIGKILL);
  const int killed_trial = victim_trial();
  REQUIRE(killed_trial != 0);  // killed mid-trial

  REQUIRE_MESSAGE(survivor.wait() == 0, read_bytes(dir / "err-survivor"));
  const auto summary = last_json_line(read_bytes(dir / "out-survivor"));
  CHECK(summary["status"] == "completed");
  CHECK(summary["completed"] == 6);
  CHECK(summary["workers"]["restarted_trials"].get<int>() >= 1);
  int starts = 0;
  std::string finished_by;
  std::map<int, int> finishes;
  for (const auto& line : journal_lines(journal)) {
    if (line["event"] == "finish") ++finishes[line["trial"].get<int>()];
    if (line.value("trial", 0) != killed_trial) continue;
    if (line["event"] == "start") ++starts;
    if (line["event"] == "finish") finished_by = line["worker"];
  }
  CHECK(starts == 2);
  CHECK(finished_by.ends_with(":" + std::to_string(survivor.pid())));
  CHECK(finishes.size() == 6);
  for (const auto& [trial, count] : finishes) CHECK(count == 1);
  CHECK(csv_rows_without_column(shared / "trials.csv", "seconds").size() == 7);
  // The survivor's own log says why it took the trial.
  std::string log;
  for (const auto& entry : fs::directory_iterator(shared / "workers")) {
    if (entry.path().filename().string().ends_with("-" + std::to_string(survivor.pid()) + ".log")) {
      log = read_bytes(entry.path());
    }
  }
  CHECK_MESSAGE(contains(log, "trial " + std::to_string(killed_trial) + ": taken over from worker"), log);
  CHECK(contains(log, "(process gone)"));
}

TEST_CASE("e2e search workers: SIGTERM (a time limit) releases the running trial to the next worker") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 300);
  const auto config =
      dir.write("c.yaml", tiny_csv_config(csv,
                                          "train: {epochs: 100, batch_size: 8}\n"
                                          "search:\n"
                                          "  strategy: random\n"
                                          "  trials: 2\n"
                                          "  space:\n"
                                          "    optimizer.lr: {loguniform: [1.0e-3, 1.0e-1]}\n"));
  const fs::path shared = dir / "shared";
  const std::string worker = "search " + config.string() + " --quiet --threads 1 --journal " +
                             shared.string() + " --worker --lease 600";
  BackgroundRun stopped(worker, dir / "out-stopped", dir / "err-stopped");
  REQUIRE(wait_until(
      [&] {
        for (const auto& line : journal_lines(shared / "journal.jsonl")) {
          if (line["event"] == "start") return true;
        }
        return false;
      },
      60s));
  stopped.send(SIGTERM);
  CHECK(stopped.wait() == 130);
  CHECK(last_json_line(read_bytes(dir / "out-stopped"))["status"] == "interrupted");
  int released = 0;
  for (const auto& line : journal_lines(shared / "journal.jsonl")) {
    if (line["event"] == "release") released = line["trial"].get<int>();
  }
  REQUIRE(released == 1);  // its trial, handed back at once: no lease to wait for
  CHECK(!fs::exists(shared / "summary.json"));

  const auto next = run_dlrun(worker);
  REQUIRE_MESSAGE(next.exit_code == 0, next.err);
  CHECK(last_json_line(next.out)["completed"] == 2);
  CHECK(last_json_line(next.out)["worker"]["trials"] == nlohmann::json{1, 2});
}
