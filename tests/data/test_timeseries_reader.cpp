#include <doctest/doctest.h>

#include <numeric>

#include "core/errors.hpp"
#include "data/load.hpp"
#include "data/timeseries_reader.hpp"
#include "support/messages.hpp"
#include "support/temp_dir.hpp"

using namespace dlrun;
using dlrun::testing::TempDir;

namespace {

// Rows t = 0..rows-1: time = t, x = 10 t, y = 100 t (so every cell names its row).
std::string series_csv(int rows) {
  std::string text = "time,x,y\n";
  for (int t = 0; t < rows; ++t) {
    text += std::to_string(t) + "," + std::to_string(10 * t) + "," + std::to_string(100 * t) + "\n";
  }
  return text;
}

DataSource series(const std::filesystem::path& path, Index window, Index horizon,
                  std::vector<std::string> features = {}, std::string target = "y") {
  DataSource source;
  source.format = "timeseries";
  source.path = path;
  source.target_column = std::move(target);
  source.window = window;
  source.horizon = horizon;
  source.features = std::move(features);
  source.where = Location{"run.yaml", 4, 10};
  return source;
}

}  // namespace

TEST_CASE("timeseries: overlapping windows of every column; the target horizon rows after") {
  TempDir dir;
  const auto path = dir.write("s.csv", series_csv(6));
  const Dataset dataset = read_timeseries(series(path, 3, 1));
  CHECK(dataset.time_series);
  CHECK(dataset.sample_shape == Shape{3, 3});
  CHECK(dataset.feature_names == std::vector<std::string>{"time", "x", "y"});
  CHECK(dataset.size() == 3);  // 6 rows - window 3 - horizon 1 + 1
  CHECK(dataset.target_shape == Shape{1});
  // Example 1: rows 1, 2, 3; target y of row 4.
  CHECK(dataset.raw(1, 0) == 1.0f);
  CHECK(dataset.raw(1, 3 * 2 + 1) == 30.0f);  // step 2 (row 3), column x
  CHECK(dataset.targets == std::vector<float>{300.0f, 400.0f, 500.0f});
  CHECK_FALSE(dataset.is_classification());

  const Dataset ahead = read_timeseries(series(path, 2, 3));  // target 3 rows after the window
  CHECK(ahead.size() == 2);
  CHECK(ahead.targets == std::vector<float>{400.0f, 500.0f});
}

TEST_CASE("timeseries: listed features, with or without the target among them") {
  TempDir dir;
  const auto path = dir.write("s.csv", series_csv(5));
  const Dataset without = read_timeseries(series(path, 2, 1, {"x"}));
  CHECK(without.sample_shape == Shape{2, 1});
  CHECK(without.feature_names == std::vector<std::string>{"x"});
  CHECK(without.floats == std::vector<float>{0, 10, 10, 20, 20, 30});
  CHECK(without.targets == std::vector<float>{200, 300, 400});

  const Dataset with = read_timeseries(series(path, 2, 1, {"y", "x"}));
  CHECK(with.feature_names == std::vector<std::string>{"y", "x"});
  CHECK(with.raw(0, 0) == 0.0f);
  CHECK(with.raw(0, 2) == 100.0f);  // step 1 (row 1), column y
  CHECK(with.targets == std::vector<float>{200, 300, 400});
}

TEST_CASE("timeseries: errors name the column, the file and the rows needed") {
  TempDir dir;
  const auto path = dir.write("s.csv", series_csv(4));
  const std::string missing = testing::message_of([&] { read_timeseries(series(path, 2, 1, {}, "load")); });
  CHECK(testing::contains(missing, "run.yaml:4:10: target 'load' is not a column of"));
  const std::string typo = testing::message_of([&] { read_timeseries(series(path, 2, 1, {"x"}, "yy")); });
  CHECK(testing::contains(typo, "target 'yy' is not a column"));
  CHECK(testing::contains(typo, "did you mean 'y'?"));
  CHECK_THROWS_AS(read_timeseries(series(path, 2, 1, {"x"}, "yy")), ConfigError);

  CHECK(testing::message_of([&] { read_timeseries(series(path, 3, 2)); }) ==
        path.string() + ": time series has 4 rows; window 3 and horizon 2 need at least 5");
  CHECK_THROWS_AS(read_timeseries(series(path, 3, 2)), DataError);

  const auto dated = dir.write("d.csv", "date,y\n2024-01-01,1\n2024-01-02,2\n2024-01-03,3\n");
  CHECK_THROWS_AS(read_timeseries(series(dated, 1, 1)), DataError);  // use features: [y]
  CHECK(read_timeseries(series(dated, 1, 1, {"y"})).size() == 2);
}

TEST_CASE(
    "timeseries: the validation split is the last windows in time order; statistics per column "
    "from the training windows only") {
  TempDir dir;
  DataConfig config;
  config.train = series(dir.write("s.csv", series_csv(13)), 3, 1, {"x"});
  config.validation.kind = ValidationSpec::Kind::split;
  config.validation.fraction = 0.2;
  config.normalize = "standard";
  const LoadedData data = load_data(config, false, 42);
  // 10 windows: 8 for training (0..7), the last 2 (8, 9) for validation, in order.
  CHECK(data.train.rows == std::vector<Index>{0, 1, 2, 3, 4, 5, 6, 7});
  CHECK(data.validation.rows == std::vector<Index>{8, 9});
  // Column x over the training windows' cells: x = 10 * (i + s) for i in 0..7, s in 0..2; its mean
  // is 10 * (3.5 + 1) = 45, and one statistic serves every step of the window.
  REQUIRE(data.transform.multiplier.size() == 3);
  CHECK(data.transform.multiplier[0] == data.transform.multiplier[2]);
  CHECK(data.transform.offset[0] == data.transform.offset[1]);
  const float mean = -data.transform.offset[0] / data.transform.multiplier[0];
  CHECK(mean == doctest::Approx(45.0).epsilon(1e-5));
}
