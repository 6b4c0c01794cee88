// `data.train: {format: timeseries, ...}`: keys, defaults and errors at their locations.
#include <doctest/doctest.h>

#include "config/config_test_util.hpp"
#include "config/parse_config.hpp"
#include "config/yaml_loader.hpp"

using namespace dlrun;
using dlrun::testing::config_error;

namespace {

const std::string kTimeseriesModel = "model:\n  layers:\n    - {type: dense, units: 1}\n";

Config parse_timeseries(const std::string& data) {
  return config_from_tree(parse_yaml("data:\n  train: " + data + "\n" + kTimeseriesModel, "/configs/ts.yaml"),
                          "/configs/ts.yaml");
}

std::string timeseries_error(const std::string& data) {
  return config_error([&] { parse_timeseries(data); });
}

}  // namespace

TEST_CASE("parse timeseries: path, target, window, horizon, features, header, delimiter") {
  const Config config = parse_timeseries(
      "{format: timeseries, path: load.csv, target: load, window: 24, horizon: 3, features: [temp, load], "
      "header: false, delimiter: ';'}");
  const DataSource& source = config.data.train;
  CHECK(source.format == "timeseries");
  CHECK(source.path == "/configs/load.csv");
  CHECK(source.target_column == "load");
  CHECK(source.window == 24);
  CHECK(source.horizon == 3);
  CHECK(source.features == std::vector<std::string>{"temp", "load"});
  CHECK_FALSE(source.header);
  CHECK(source.delimiter == ';');

  const Config defaults = parse_timeseries("{format: timeseries, path: load.csv, target: load, window: 8}");
  CHECK(defaults.data.train.horizon == 1);
  CHECK(defaults.data.train.features.empty());
  CHECK(defaults.data.train.header);
}

TEST_CASE("parse timeseries: missing or bad keys are errors at their place") {
  CHECK(
      timeseries_error("{format: timeseries, path: l.csv, window: 8}")
          .find(
              "/configs/ts.yaml:2:10: data.train: target: is required: the name of the column to forecast") ==
      0);
  CHECK(timeseries_error("{format: timeseries, path: l.csv, target: y}").find("window") != std::string::npos);
  CHECK(timeseries_error("{format: timeseries, path: l.csv, target: y, window: 0}")
            .find("data.train: window: must be >= 1, got 0") != std::string::npos);
  CHECK(timeseries_error("{format: timeseries, path: l.csv, target: y, window: 4, horizon: 0}")
            .find("data.train: horizon: must be >= 1, got 0") != std::string::npos);
  CHECK(timeseries_error("{format: timeseries, path: l.csv, target: y, window: 4, label: y}")
            .find("unknown option 'label'") != std::string::npos);
  CHECK(timeseries_error("{format: timeseries, path: l.csv, target: y, window: 4, sequence_length: 4}")
            .find("unknown option 'sequence_length'") != std::string::npos);
  CHECK(timeseries_error("{format: timeseries, target: y, window: 4}").find("path: is required") !=
        std::string::npos);
}
