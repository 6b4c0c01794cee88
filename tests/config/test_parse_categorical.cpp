// data.categorical and data.handle_unknown in configs.
#include <doctest/doctest.h>

#include "config/config_test_util.hpp"
#include "config/parse_config.hpp"
#include "config/yaml_loader.hpp"

using namespace dlrun;
using dlrun::testing::config_error;

namespace {

const std::string kCategoricalModel = "model:\n  layers:\n    - {type: dense, units: 3}\n";

Config parse_categorical(const std::string& data) {
  return config_from_tree(
      parse_yaml("data:\n  train: {format: csv, path: a.csv}\n" + data + kCategoricalModel, "/c.yaml"),
      "/c.yaml");
}

}  // namespace

TEST_CASE("parse config: data.categorical by name, by unquoted column number, or auto") {
  const Config none = parse_categorical("");
  CHECK(none.data.categorical.empty());
  CHECK_FALSE(none.data.categorical.ignore_unknown);

  const Config listed = parse_categorical("  categorical: [city, 2, \"3\"]\n  handle_unknown: ignore\n");
  const auto& columns = listed.data.categorical.columns;
  REQUIRE(columns.size() == 3);
  CHECK(columns[0].name == "city");
  CHECK(columns[0].index == -1);
  CHECK(columns[1].index == 2);
  CHECK(columns[2].name == "3");  // quoted: a column named 3
  CHECK(columns[2].index == -1);
  CHECK(listed.data.categorical.ignore_unknown);
  CHECK(listed.data.categorical.where.to_string() == "/c.yaml:3:16");

  const Config detect = parse_categorical("  categorical: auto\n");
  CHECK(detect.data.categorical.detect);
  CHECK(detect.data.categorical.columns.empty());
}

TEST_CASE("parse config: data.categorical mistakes") {
  auto error = [](const std::string& data) { return config_error([&] { parse_categorical(data); }); };
  CHECK(error("  categorical: city\n") ==
        "/c.yaml:3:16: data: categorical: expected auto or a non-empty list of column names or 0-based "
        "column numbers");
  CHECK(error("  categorical: []\n").find("expected auto or a non-empty list") != std::string::npos);
  CHECK(error("  categorical: [city]\n  handle_unknown: skip\n")
            .find("data: handle_unknown: unknown value 'skip'") != std::string::npos);
  CHECK(error("  categorical: [\"\"]\n") == "/c.yaml:3:17: data.categorical: an empty column name");
  CHECK(config_error([] {
          config_from_tree(parse_yaml("data:\n  train: {format: npy, inputs: x.npy, labels: y.npy}\n"
                                      "  categorical: [a]\n" +
                                          kCategoricalModel,
                                      "/c.yaml"),
                           "/c.yaml");
        }).find("data: categorical: applies to csv data only; data.train has format npy") !=
        std::string::npos);
}
