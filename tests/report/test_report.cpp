// lib/report: the CSV reader of run files, the kind of a directory, and the HTML built from run,
// cv and search directories (chart containers, escaping, errors on malformed files). Drawing the
// charts in a browser is tests/browser's job.
#include <doctest/doctest.h>

#include "core/errors.hpp"
#include "report/csv_table.hpp"
#include "report/html_page.hpp"
#include "report/report.hpp"
#include "report/vega_assets.hpp"
#include "support/messages.hpp"
#include "support/temp_dir.hpp"

using namespace dlrun;
using namespace dlrun::report;
using dlrun::testing::contains;
using dlrun::testing::message_of;
using dlrun::testing::TempDir;

namespace {

const char* kMetrics =
    "epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds\n"
    "1,0.9,0.6,1.0,0.55,0.01,0.1\n"
    "2,0.5,0.8,0.7,0.75,0.005,0.1\n"
    "3,0.3,0.9,0.6,0.8,0.0025,0.1\n";

std::vector<std::string> ids(const Report& report) {
  return report.chart_ids;
}

}  // namespace

TEST_CASE("report csv table: quoted fields, blank lines; a short row is a DataError with its line") {
  const CsvTable table = parse_csv_table("a,\"b,c\",d\n1,\"say \"\"hi\"\"\",3\n\n4,5,6\n", "t.csv");
  REQUIRE(table.columns == std::vector<std::string>{"a", "b,c", "d"});
  REQUIRE(table.rows.size() == 2);
  CHECK(table.rows[0][1] == "say \"hi\"");
  CHECK(table.column("d") == 2u);
  CHECK_FALSE(table.column("e"));
  CHECK(CsvTable::number("0.25") == 0.25);
  CHECK_FALSE(CsvTable::number(""));
  CHECK_FALSE(CsvTable::number("nan"));
  CHECK_FALSE(CsvTable::number("3x"));
  const std::string message = message_of([] { parse_csv_table("a,b\n1,2\n3\n", "t.csv"); });
  CHECK(contains(message, "t.csv:3"));
  CHECK(contains(message, "expected 2 fields"));
}

TEST_CASE("report: a run directory gives one chart per metric (train and validation) and the learning rate") {
  TempDir dir;
  dir.write("metrics.csv", kMetrics);
  dir.write("summary.json", R"({"command": "train", "status": "completed", "epochs": 3, "best_epoch": 3,
                                "train": {"loss": 0.3}, "validation": {"loss": 0.6}})");
  CHECK(directory_kind(dir.path()) == DirectoryKind::run);
  const Report report = build_report(dir.path(), std::nullopt);
  CHECK(ids(report) == std::vector<std::string>{"chart-loss", "chart-accuracy", "chart-lr"});
  for (const std::string& id : report.chart_ids)
    CHECK(contains(report.html, "<div class=\"chart\" id=\"" + id + "\">"));
  // The validation curve is there, the charting code is inlined and nothing is fetched.
  CHECK(contains(report.html, "\"split\":\"validation\""));
  CHECK(contains(report.html, vega_embed_js().substr(0, 200)));
  CHECK_FALSE(contains(report.html, "<script src"));
}

TEST_CASE("report: the checkpoint evaluation adds the confusion matrix and per-class scores, escaped") {
  TempDir dir;
  dir.write("metrics.csv", kMetrics);
  CheckpointEvaluation evaluation;
  evaluation.checkpoint = "checkpoints/best.safetensors";
  evaluation.split = "test";
  evaluation.examples = 5;
  evaluation.class_names = {"cat", "</script><b>dog"};
  evaluation.evaluation.values = {{"loss", 0.4}, {"accuracy", 0.8}};
  evaluation.evaluation.confusion = {{2, 1}, {0, 2}};
  evaluation.evaluation.per_class = {{1.0, 0.667, 0.8, 3}, {0.667, 1.0, 0.8, 2}};
  const Report report = build_report(dir.path(), evaluation);
  CHECK(ids(report).back() == "chart-per_class");
  CHECK(ids(report)[ids(report).size() - 2] == "chart-confusion");
  // A class name never closes the script element nor becomes markup.
  CHECK_FALSE(contains(report.html, "</script><b>dog"));
  CHECK(contains(report.html, "&lt;/script&gt;&lt;b&gt;dog"));
  CHECK(contains(report.html, "<\\/script><b>dog"));
}

TEST_CASE(
    "report: cv directories chart each metric per fold; search directories the leaderboard and each "
    "dimension") {
  TempDir cv;
  cv.write("summary.json", R"({"command": "cv", "status": "completed", "std": {"accuracy": 0.05}})");
  cv.write("folds.csv",
           "repeat,fold,rows,epochs,loss,accuracy,seconds\n1,1,10,3,0.5,0.8,0.1\n1,2,10,3,0.4,0.9,0.1\n");
  CHECK(directory_kind(cv.path()) == DirectoryKind::cv);
  CHECK(ids(build_report(cv.path(), std::nullopt)) ==
        std::vector<std::string>{"chart-fold_loss", "chart-fold_accuracy"});

  TempDir search;
  search.write("summary.json", R"({"command": "search", "metric": "val_loss", "mode": "min"})");
  search.write("config.yaml", "search:\n  space:\n    model.layers.fc.units: {choice: [4, 16]}\n");
  search.write("trials.csv",
               "trial,optimizer.lr,model.layers.fc.units,val_loss,epochs,seconds,status,error\n"
               "1,0.01,16,0.5,3,0.1,completed,\n"
               "2,0.001,4,0.3,3,0.1,completed,\n"
               "3,0.1,4,,1,0.1,failed,\"diverged, loss nan\"\n");
  const Report report = build_report(search.path(), std::nullopt);
  CHECK(ids(report) == std::vector<std::string>{"chart-trials", "chart-param_optimizer_lr",
                                                "chart-param_model_layers_fc_units"});
  // Lower is better: trial 2 ranks first; the failed trial is counted, not ranked.
  CHECK(report.html.find("<td>1</td><td class=\"number\">2</td>") != std::string::npos);
  CHECK(contains(report.html, "1 trials did not complete"));
  // A choice of numbers is drawn as categories in numeric order.
  CHECK(contains(report.html, "\"sort\":[\"4\",\"16\"]"));
}

TEST_CASE("report: a missing folder, one without run files and malformed files are DataErrors") {
  TempDir dir;
  CHECK(contains(message_of([&] { directory_kind(dir / "nope"); }), "not a directory"));
  CHECK(contains(message_of([&] { directory_kind(dir.path()); }), "not a run, cv or search directory"));
  dir.write("metrics.csv", "epoch,loss\n1,0.5,7\n");
  CHECK(contains(message_of([&] { build_report(dir.path(), std::nullopt); }), "metrics.csv:2"));
  dir.write("summary.json", "{not json");
  CHECK(contains(message_of([&] { build_report(dir.path(), std::nullopt); }),
                 "summary.json: not a JSON object"));
  TempDir search;
  search.write("trials.csv", "a,b\n1,2\n");
  search.write("summary.json", R"({"command": "search"})");
  CHECK_THROWS_AS(build_report(search.path(), std::nullopt), DataError);
}
