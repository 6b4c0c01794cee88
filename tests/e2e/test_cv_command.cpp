// End-to-end: `dlrun cv` — the cv directory, folds.csv and fold_rows.csv, the summary JSON, the
// same fold metrics for --jobs 1 and --jobs 2, and the errors for impossible fold counts.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>

#include <csignal>

#include "e2e/background_run.hpp"
#include "e2e/e2e_support.hpp"

using namespace dlrun::testing;
namespace fs = std::filesystem;

namespace {

const std::string kTrain =
    "train: {epochs: 6, batch_size: 8, early_stopping: {monitor: val_loss, patience: 2}}\n";

}  // namespace

TEST_CASE("e2e cv: folds.csv, fold_rows.csv and the summary; --jobs 2 gives the --jobs 1 metrics") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 60);
  const auto config = dir.write("c.yaml", tiny_csv_config(csv, kTrain));
  const std::string command = "cv " + config.string() + " --folds 3 --threads 2 --quiet --out ";
  const auto one = run_dlrun(command + (dir / "one").string() + " --jobs 1");
  REQUIRE_MESSAGE(one.exit_code == 0, one.err);
  const auto two = run_dlrun(command + (dir / "two").string() + " --jobs 2");
  REQUIRE_MESSAGE(two.exit_code == 0, two.err);

  const auto summary = last_json_line(one.out);
  CHECK(summary["command"] == "cv");
  CHECK(summary["status"] == "completed");
  REQUIRE(summary["folds"].size() == 3);
  double sum = 0.0;
  for (const auto& fold : summary["folds"]) {
    CHECK(fold["rows"] == 20);
    sum += fold["accuracy"].get<double>();
  }
  CHECK(summary["mean"]["accuracy"].get<double>() == doctest::Approx(sum / 3.0));
  CHECK(summary["std"].contains("loss"));
  CHECK(nlohmann::json::parse(read_bytes(dir / "one" / "summary.json")) == summary);
  for (const char* file : {"config.yaml", "folds.csv", "fold_rows.csv", "log.txt"})
    CHECK_MESSAGE(fs::exists(dir / "one" / file), file);
  CHECK_FALSE(fs::exists(dir / "one" / "checkpoints"));

  const auto rows_one = csv_rows_without_seconds(dir / "one" / "folds.csv");
  REQUIRE(rows_one.size() == 4);
  CHECK(rows_one[0] == "repeat,fold,rows,epochs,loss,accuracy");
  CHECK(rows_one == csv_rows_without_seconds(dir / "two" / "folds.csv"));

  // Every data row is held out by exactly one fold.
  const std::string assignment = read_bytes(dir / "one" / "fold_rows.csv");
  CHECK(assignment.starts_with("row,repeat,fold\n0,1,"));
  CHECK(std::count(assignment.begin(), assignment.end(), '\n') == 61);
  CHECK(assignment == read_bytes(dir / "two" / "fold_rows.csv"));
}

TEST_CASE("e2e cv: too few folds, more folds than rows or than a class's rows are clear errors") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 12);  // 4 rows per class
  const auto config = dir.write("c.yaml", tiny_csv_config(csv, kTrain));
  const std::string command = "cv " + config.string() + " --quiet --out " + (dir / "cv").string();
  const auto one_fold = run_dlrun(command + " --folds 1");
  CHECK(one_fold.exit_code == 2);
  CHECK(one_fold.err == "error: --folds must be at least 2, got 1\n");
  const auto per_class = run_dlrun(command + " --folds 5");
  CHECK(per_class.exit_code == 3);
  CHECK(per_class.err.find("has 4 rows, fewer than the 5 stratified folds") != std::string::npos);
  const auto too_many = run_dlrun(command + " --folds 13 --set cv.stratified=false");
  CHECK(too_many.exit_code == 3);
  CHECK(too_many.err.find("12 rows cannot make 13 folds") != std::string::npos);
  CHECK_FALSE(fs::exists(dir / "cv"));  // nothing written for a run that cannot start
}

TEST_CASE("e2e cv: SIGINT stops the folds cleanly: exit 130 and a summary that says interrupted") {
  TempDir dir;
  const auto csv = write_blobs_csv(dir, 60);
  const auto config = dir.write("c.yaml", tiny_csv_config(csv, "train: {epochs: 1000000, batch_size: 8}\n"));
  const fs::path cv = dir / "cv";
  BackgroundRun run("cv " + config.string() + " --folds 3 --jobs 2 --quiet --out " + cv.string(),
                    dir / "out.txt", dir / "err.txt");
  REQUIRE(wait_until([&] { return fs::exists(cv / "log.txt"); }, std::chrono::seconds(20)));
  run.send(SIGINT);
  CHECK(run.wait() == 130);
  const auto summary = nlohmann::json::parse(read_bytes(cv / "summary.json"));
  CHECK(summary["status"] == "interrupted");
  CHECK(summary["folds"].empty());  // no fold finished its epochs, so none was evaluated
  CHECK(read_bytes(dir / "err.txt").find("interrupted") != std::string::npos);
}
