// metrics.csv: the header and row format, the writer's flushing, and truncation on resume.
#include <doctest/doctest.h>

#include <string>

#include "core/errors.hpp"
#include "support/temp_dir.hpp"
#include "train/metrics_csv.hpp"

using namespace dlrun;

namespace {

EpochReport report_for(Index epoch, bool validation = true) {
  EpochReport report;
  report.epoch = epoch;
  report.train = {{"loss", 0.5 / static_cast<double>(epoch)}, {"accuracy", 0.75}};
  if (validation) report.validation = {{"loss", 1.0 / 3.0}, {"accuracy", 0.8}};
  report.learning_rate = 0.001;
  report.seconds = 1.25;
  return report;
}

std::string epoch_rows(Index first, Index last) {
  std::string text;
  for (Index epoch = first; epoch <= last; ++epoch) text += metrics_csv_row(report_for(epoch)) + "\n";
  return text;
}

}  // namespace

TEST_CASE("metrics csv: header names train metrics, val_ metrics, lr and seconds, 9 significant digits") {
  CHECK(metrics_csv_header(report_for(1)) == "epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds");
  CHECK(metrics_csv_row(report_for(1)) == "1,0.5,0.75,0.333333333,0.8,0.001,1.25");
  CHECK(metrics_csv_row(report_for(3)) == "3,0.166666667,0.75,0.333333333,0.8,0.001,1.25");

  // Without validation there are no val_ columns; a penalty column follows the train metrics.
  EpochReport report = report_for(2, false);
  report.train.emplace_back("penalty", 0.01);
  CHECK(metrics_csv_header(report) == "epoch,loss,accuracy,penalty,lr,seconds");
  CHECK(metrics_csv_row(report) == "2,0.25,0.75,0.01,0.001,1.25");
}

TEST_CASE("metrics csv: the writer writes the header once and a row per epoch") {
  testing::TempDir dir;
  const auto path = dir / "metrics.csv";
  {
    MetricsCsvWriter writer(path);
    TrainState state;
    for (Index epoch = 1; epoch <= 3; ++epoch) {
      CHECK(writer.on_epoch_end(report_for(epoch), state) == Verdict::keep_going);
      // Flushed as each epoch ends: readable while training goes on.
      CHECK(testing::read_bytes(path) == metrics_csv_header(report_for(1)) + "\n" + epoch_rows(1, epoch));
    }
  }
  // A fresh run (no resume) starts the file over.
  MetricsCsvWriter fresh(path);
  CHECK(testing::read_bytes(path).empty());
}

TEST_CASE("metrics csv: resuming after epoch N keeps the header and N rows, then appends") {
  testing::TempDir dir;
  const std::string header = metrics_csv_header(report_for(1)) + "\n";
  // The interrupted run had written 4 epochs; its checkpoint is from epoch 2.
  const auto path = dir.write("metrics.csv", header + epoch_rows(1, 4));
  {
    MetricsCsvWriter writer(path, 2);
    CHECK(testing::read_bytes(path) == header + epoch_rows(1, 2));
    TrainState state;
    writer.on_epoch_end(report_for(3), state);
    writer.on_epoch_end(report_for(4), state);
  }
  CHECK(testing::read_bytes(path) == header + epoch_rows(1, 4));

  // A file with fewer rows than the resumed epochs is kept whole.
  const auto short_path = dir.write("short.csv", header + epoch_rows(1, 1));
  {
    MetricsCsvWriter writer(short_path, 3);
    CHECK(testing::read_bytes(short_path) == header + epoch_rows(1, 1));
  }
  // A missing file: the first epoch written gets a header.
  const auto missing = dir / "missing.csv";
  {
    MetricsCsvWriter writer(missing, 2);
    TrainState state;
    writer.on_epoch_end(report_for(3), state);
  }
  CHECK(testing::read_bytes(missing) == header + epoch_rows(3, 3));
}

TEST_CASE("metrics csv: an unwritable path is an OutputError") {
  testing::TempDir dir;
  CHECK_THROWS_AS(MetricsCsvWriter(dir / "no-such-folder" / "metrics.csv"), OutputError);
}
