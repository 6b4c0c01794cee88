// End-to-end: `dlrun search` on tiny data. Its outputs (trials.csv, best.yaml that `dlrun train`
// runs, summary.json, the journal), failed trials, --jobs giving the same trials, config errors at
// the space's key, and a search killed with SIGKILL that resumes without re-running a finished trial.
#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "e2e/background_run.hpp"
#include "e2e/e2e_support.hpp"
#include "support/messages.hpp"

using namespace dlrun::testing;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string search_config(const fs::path& csv, const std::string& search, const std::string& train = "") {
  return tiny_csv_config(csv, (train.empty() ? "train: {epochs: 4, batch_size: 16}\n" : train) + search);
}

std::vector<std::string> file_lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Journal events per trial: (starts, finishes).
std::map<int, std::pair<int, int>> journal_counts(const fs::path& path) {
  std::map<int, std::pair<int, int>> counts;
  for (const std::string& line : file_lines(path)) {
    const auto entry = nlohmann::json::parse(line, nullptr, false);
    if (entry.is_discarded() || !entry.contains("trial")) continue;
    auto& [starts, finishes] = counts[entry["trial"].get<int>()];
    if (entry["event"] == "start") ++starts;
    if (entry["event"] == "finish") ++finishes;
  }
  return counts;
}

}  // namespace

TEST_CASE("e2e search: grid outputs, a runnable best.yaml, and the same trials for --jobs 1 and 2") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 60);
  const auto config = dir.write("c.yaml", search_config(csv, kTinyGridSearch));
  const auto one =
      run_dlrun("search " + config.string() + " --quiet --threads 1 --out " + (dir / "one").string());
  REQUIRE_MESSAGE(one.exit_code == 0, one.err);
  const auto summary = last_json_line(one.out);
  CHECK(summary["command"] == "search");
  CHECK(summary["trials"] == 8);
  CHECK(summary["completed"] == 8);
  CHECK(summary["failed"] == 0);
  CHECK(summary["best"]["params"].contains("optimizer.lr"));
  CHECK(summary == nlohmann::json::parse(read_bytes(dir / "one" / "summary.json")));
  const auto rows = file_lines(dir / "one" / "trials.csv");
  REQUIRE(rows.size() == 9);
  CHECK(
      rows[0] ==
      "trial,optimizer.lr,model.layers.hidden.units,optimizer.type,val_accuracy,epochs,seconds,status,error");
  CHECK(rows[1].starts_with("1,0.003,4,adam,"));
  CHECK(rows[8].starts_with("8,0.03,8,sgd,"));
  // The best trial's metric is the best in trials.csv, and best.yaml trains as that point.
  const auto best = run_dlrun("train " + (dir / "one" / "best.yaml").string() +
                              " --quiet --threads 1 --out " + (dir / "best-run").string());
  REQUIRE_MESSAGE(best.exit_code == 0, best.err);
  CHECK(last_json_line(best.out)["validation"]["accuracy"].get<double>() ==
        doctest::Approx(summary["best"]["metric"].get<double>()));

  const auto two = run_dlrun("search " + config.string() + " --quiet --threads 1 --jobs 2 --out " +
                             (dir / "two").string());
  REQUIRE_MESSAGE(two.exit_code == 0, two.err);
  CHECK(csv_rows_without_column(dir / "one" / "trials.csv", "seconds") ==
        csv_rows_without_column(dir / "two" / "trials.csv", "seconds"));
}

TEST_CASE("e2e search: a diverging trial is recorded as failed and the search goes on") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 60);
  const auto config = dir.write("c.yaml", search_config(csv,
                                                        "search:\n"
                                                        "  strategy: grid\n"
                                                        "  space:\n"
                                                        "    optimizer: {choice: [{type: sgd, lr: 1.0e30}, "
                                                        "{type: adam, lr: 0.01}]}\n"));
  const auto result =
      run_dlrun("search " + config.string() + " --quiet --threads 1 --out " + (dir / "s").string());
  REQUIRE_MESSAGE(result.exit_code == 0, result.err);
  const auto summary = last_json_line(result.out);
  CHECK(summary["completed"] == 1);
  CHECK(summary["failed"] == 1);
  CHECK(summary["best"]["trial"] == 2);
  const auto rows = file_lines(dir / "s" / "trials.csv");
  REQUIRE(rows.size() == 3);
  CHECK(contains(rows[1], ",failed,"));
  CHECK(contains(rows[1], "not finite"));

  // Every trial failing is a failed search, with the trials' exit code (4: diverged).
  const auto all_fail = dir.write("f.yaml", search_config(csv,
                                                          "search:\n"
                                                          "  strategy: grid\n"
                                                          "  space:\n"
                                                          "    optimizer: {choice: [{type: sgd, lr: 1.0e30}, "
                                                          "{type: sgd, lr: 1.0e35}]}\n",
                                                          "train: {epochs: 2}\n"));
  const auto failed =
      run_dlrun("search " + all_fail.string() + " --quiet --threads 1 --out " + (dir / "f").string());
  CHECK_MESSAGE(failed.exit_code == 4, failed.err);
  CHECK_MESSAGE(last_json_line(failed.out)["status"] == "failed", failed.out);
}

TEST_CASE("e2e search: space errors are one line at the space key (exit 2), before any directory exists") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 30);
  struct Case {
    std::string space;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"    model.layers.hiden.units: {choice: [4, 8]}\n",
       ":18:5: search.space.model.layers.hiden.units = 4: 'model.layers' has no element named 'hiden' (did "
       "you "
       "mean 'hidden'?)"},
      {"    optimizer.lrr: {loguniform: [1.0e-4, 1.0e-1]}\n",
       ":18:5: search.space.optimizer.lrr = 0.0001: optimizer: unknown option 'lrr' (did you mean 'lr'?)"},
      {"    model.layers.hidden.units: {choice: [4, 0]}\n",
       ":18:5: search.space.model.layers.hidden.units = 0:"},
      {"    optimizer.lr: {log_uniform: [1.0e-4, 1.0e-1]}\n",
       ":18:20: search.space.optimizer.lr: unknown "
       "distribution 'log_uniform' (did you mean 'loguniform'?)"},
      {"    optimizer.lr: {uniform: [0.1, 0.2]}\n    train.epochs: {int: [1, 3]}\n",
       "search.space.optimizer.lr: a grid search needs the points"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.space);
    const auto config =
        dir.write("c.yaml", search_config(csv, "search:\n  strategy: grid\n  space:\n" + c.space));
    const auto result = run_dlrun("search " + config.string() + " --quiet --out " + (dir / "never").string());
    CHECK(result.exit_code == 2);
    CHECK_MESSAGE(contains(result.err, c.message), result.err);
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
    CHECK(!fs::exists(dir / "never"));
  }
}

TEST_CASE("e2e search: killed with SIGKILL, --resume re-runs no finished trial") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 300);
  const auto config = dir.write("c.yaml", search_config(csv,
                                                        "search:\n"
                                                        "  strategy: random\n"
                                                        "  trials: 10\n"
                                                        "  space:\n"
                                                        "    optimizer.lr: {loguniform: [1.0e-3, 1.0e-1]}\n"
                                                        "    model.layers.hidden.units: {int: [4, 16]}\n",
                                                        "train: {epochs: 25, batch_size: 8}\n"));
  const fs::path search_dir = dir / "s";
  const fs::path journal = search_dir / "journal.jsonl";
  std::map<int, std::pair<int, int>> before;
  {
    BackgroundRun search("search " + config.string() + " --quiet --threads 1 --out " + search_dir.string(),
                         dir / "out1", dir / "err1");
    // Kill once some trials have finished and others have not.
    REQUIRE(wait_until(
        [&] {
          int finished = 0;
          for (const auto& [trial, counts] : journal_counts(journal)) finished += counts.second;
          return finished >= 3;
        },
        60s));
    search.send(SIGKILL);
    CHECK(search.wait() == 128 + SIGKILL);
    before = journal_counts(journal);
  }
  int finished_before = 0;
  for (const auto& [trial, counts] : before) finished_before += counts.second;
  REQUIRE(finished_before < 10);  // it was killed mid-way
  CHECK(!fs::exists(search_dir / "summary.json"));

  const auto resumed =
      run_dlrun("search " + config.string() + " --quiet --threads 1 --resume " + search_dir.string());
  REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.err);
  const auto summary = last_json_line(resumed.out);
  CHECK(summary["completed"] == 10);
  const auto after = journal_counts(journal);
  REQUIRE(after.size() == 10);
  for (const auto& [trial, counts] : after) {
    CAPTURE(trial);
    CHECK(counts.second == 1);  // finished exactly once
    const bool finished_earlier = before.contains(trial) && before.at(trial).second == 1;
    if (finished_earlier) CHECK(counts.first == 1);  // never started again
  }
  CHECK(file_lines(search_dir / "trials.csv").size() == 11);

  // Resuming with another space is refused.
  const auto other = dir.write("o.yaml", search_config(csv,
                                                       "search:\n"
                                                       "  strategy: random\n"
                                                       "  trials: 10\n"
                                                       "  space:\n"
                                                       "    optimizer.lr: {loguniform: [1.0e-4, 1.0e-1]}\n"
                                                       "    model.layers.hidden.units: {int: [4, 16]}\n",
                                                       "train: {epochs: 25, batch_size: 8}\n"));
  const auto refused = run_dlrun("search " + other.string() + " --quiet --resume " + search_dir.string());
  CHECK(refused.exit_code == 2);
  CHECK(contains(refused.err, "differs from the config of the search"));
}

TEST_CASE("e2e search: cv evaluation scores a point as `dlrun cv` does; nested cv reports every outer fold") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 90);
  const std::string search =
      "cv: {folds: 3}\n"
      "search:\n"
      "  strategy: random\n"
      "  trials: 3\n"
      "  evaluate: cv\n"
      "  space:\n"
      "    optimizer.lr: {loguniform: [1.0e-3, 1.0e-1]}\n"
      "    model.layers.hidden.units: {int_log: [2, 16]}\n";
  const auto config = dir.write("c.yaml", search_config(csv, search));
  const auto result =
      run_dlrun("search " + config.string() + " --quiet --threads 1 --out " + (dir / "s").string());
  REQUIRE_MESSAGE(result.exit_code == 0, result.err);
  const auto best = last_json_line(result.out)["best"];
  std::string sets;
  for (const auto& [path, value] : best["params"].items()) sets += " --set " + path + "=" + value.dump();
  const auto cv =
      run_dlrun("cv " + config.string() + sets + " --quiet --threads 1 --out " + (dir / "cv").string());
  REQUIRE_MESSAGE(cv.exit_code == 0, cv.err);
  CHECK(last_json_line(cv.out)["mean"]["accuracy"].get<double>() == best["metric"].get<double>());

  const auto nested = run_dlrun("search " + config.string() + " --outer-folds 3 --quiet --threads 1 --out " +
                                (dir / "n").string());
  REQUIRE_MESSAGE(nested.exit_code == 0, nested.err);
  const auto summary = last_json_line(nested.out);
  REQUIRE(summary["nested"]["folds"].size() == 3);
  double sum = 0.0;
  for (const auto& fold : summary["nested"]["folds"]) {
    CHECK(fold["inner"]["completed"] == 3);
    CHECK(fold["params"].contains("optimizer.lr"));
    sum += fold["metric"].get<double>();
  }
  CHECK(summary["nested"]["mean"].get<double>() == doctest::Approx(sum / 3));
  for (const char* sub : {"outer-1", "outer-2", "outer-3"}) {
    CHECK(file_lines(dir / "n" / sub / "trials.csv").size() == 4);
    CHECK(fs::exists(dir / "n" / sub / "best.yaml"));
  }
  // Outer folds need cv as the inner evaluation.
  const auto holdout = dir.write(
      "h.yaml", search_config(csv, "search:\n  space:\n    optimizer.lr: {uniform: [0.01, 0.1]}\n"));
  const auto refused = run_dlrun("search " + holdout.string() + " --outer-folds 3 --quiet");
  CHECK(refused.exit_code == 2);
  CHECK(contains(refused.err, "--outer-folds: nested cross-validation needs search.evaluate: cv"));
}

TEST_CASE("e2e search: successive halving stops the weaker trials early and continues the best") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 60);
  const auto config =
      dir.write("c.yaml", search_config(csv,
                                        "search:\n"
                                        "  trials: 9\n"
                                        "  scheduler: {type: successive_halving, min_epochs: 1, "
                                        "max_epochs: 9, eta: 3}\n"
                                        "  space:\n"
                                        "    optimizer.lr: {loguniform: [1.0e-4, 1.0e-1]}\n",
                                        "train: {epochs: 9, batch_size: 16}\n"));
  const auto result =
      run_dlrun("search " + config.string() + " --quiet --threads 1 --jobs 2 --out " + (dir / "s").string());
  REQUIRE_MESSAGE(result.exit_code == 0, result.err);
  const auto summary = last_json_line(result.out);
  CHECK(summary["completed"] == 1);
  CHECK(summary["stopped"] == 8);
  CHECK(summary["best"]["epochs"] == 9);
  // 9 trials x 1 epoch, 3 continued to 3 epochs, 1 continued to 9: 9 + 6 + 6 epochs, not 9 x 9.
  CHECK(summary["total_epochs"] == 21);
  int stopped_rows = 0;
  for (const std::string& row : file_lines(dir / "s" / "trials.csv"))
    stopped_rows += contains(row, ",stopped,");
  CHECK(stopped_rows == 8);
}

TEST_CASE("e2e search: BOHB (bayes with Hyperband) runs its brackets, the same trials for --jobs 1 and 2") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 60);
  // Brackets of 9, 5 and 3 trials; the second is proposed by the model (9 evaluations at 1 epoch).
  const auto config = dir.write(
      "c.yaml", search_config(csv,
                              "search:\n"
                              "  strategy: bayes\n"
                              "  trials: 17\n"
                              "  scheduler: {type: hyperband, min_epochs: 1, max_epochs: 9, eta: 3}\n"
                              "  space:\n"
                              "    optimizer.lr: {loguniform: [1.0e-4, 1.0e-1]}\n",
                              "train: {epochs: 9, batch_size: 16}\n"));
  for (const char* jobs : {"1", "2"}) {
    const auto result = run_dlrun("search " + config.string() + " --quiet --threads 1 --jobs " + jobs +
                                  " --out " + (dir / jobs).string());
    REQUIRE_MESSAGE(result.exit_code == 0, result.err);
    const auto summary = last_json_line(result.out);
    CHECK(summary["scheduler"] == "hyperband");
    CHECK(summary["best"]["epochs"] == 9);
    // 9 + 2 * 3 + 6 (first bracket), 5 * 3 + 6 (second), 3 * 9 (third).
    CHECK(summary["total_epochs"] == 21 + 21 + 27);
  }
  CHECK(csv_rows_without_column(dir / "1" / "trials.csv", "seconds") ==
        csv_rows_without_column(dir / "2" / "trials.csv", "seconds"));
}

TEST_CASE("search config: scheduler and bayes settings, with errors at their keys") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 30);
  struct Case {
    std::string search;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"search: {scheduler: hyperbnd}\n", "unknown scheduler 'hyperbnd' (did you mean 'hyperband'?)"},
      {"search: {scheduler: {type: hyperband, eta: 1}}\n", "search.scheduler: eta: must be >= 2, got 1"},
      {"search: {scheduler: {min_epochs: 5, max_epochs: 2}}\n",
       "max_epochs: must be >= min_epochs (5), got 2"},
      {"search: {bayes: {gamma: 1.5}}\n", "search.bayes: gamma: must be in [0, 1), got 1.5"},
      {"search: {bayes: {startup_trails: 3}}\n",
       "unknown option 'startup_trails' (did you mean 'startup_trials'?)"},
      {"search: {metric: val_acuracy, space: {optimizer.lr: {uniform: [0.01, 0.1]}}}\n",
       "search.metric: 'val_acuracy' is not reported by the trials (did you mean 'val_accuracy'?)"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.search);
    const auto config = dir.write("c.yaml", search_config(csv, c.search));
    const auto result = run_dlrun("search " + config.string() + " --quiet --out " + (dir / "never").string());
    CHECK(result.exit_code == 2);
    CHECK_MESSAGE(contains(result.err, c.message), result.err);
    CHECK(!fs::exists(dir / "never"));
  }
}

TEST_CASE("e2e search: --refit retrains the best on train + validation and reports test") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 60);
  const auto test_csv = write_blobs_csv(dir, 30, "test.csv");
  std::string text = search_config(csv,
                                   "search:\n"
                                   "  strategy: grid\n"
                                   "  space:\n"
                                   "    optimizer.lr: {choice: [0.003, 0.03]}\n");
  const std::string train_line = "  train: {format: csv, path: " + csv.string() + ", label: label}\n";
  text.replace(text.find(train_line), train_line.size(),
               train_line + "  test: {format: csv, path: " + test_csv.string() + ", label: label}\n");
  const auto config = dir.write("c.yaml", text);
  const auto result =
      run_dlrun("search " + config.string() + " --refit --quiet --threads 1 --out " + (dir / "s").string());
  REQUIRE_MESSAGE(result.exit_code == 0, result.err);
  const auto refit = last_json_line(result.out)["refit"];
  CHECK(refit["status"] == "completed");
  CHECK(refit["test"].contains("accuracy"));
  CHECK(!refit.contains("validation"));  // trained on train + validation: nothing held out
  CHECK(fs::exists(dir / "s" / "refit" / "checkpoints" / "last.safetensors"));
}
