#include <doctest/doctest.h>

#include "core/errors.hpp"
#include "data/csv_reader.hpp"
#include "data/temp_files.hpp"
#include "support/fixtures.hpp"

using namespace dlrun;
using dlrun::testing::csv_source;
using dlrun::testing::TempDir;
using dlrun::testing::test_data_path;

namespace {

using Strings = std::vector<std::string>;
using Floats = std::vector<float>;

}  // namespace

TEST_CASE("csv: header, quoted fields, CRLF, blank trailing lines, string labels in sorted order") {
  const auto path = test_data_path("files/flowers.csv");
  const Dataset dataset = read_csv(csv_source(path), LabelKind::classes);
  CHECK(dataset.source == path.string());
  CHECK(dataset.size() == 3);
  CHECK(dataset.sample_shape == Shape{2});
  CHECK(dataset.feature_names == Strings{"length", "width, cm"});
  CHECK(dataset.floats == Floats{1.5f, 2.0f, 3.0f, 4.25f, -0.1f, 5.0f});
  CHECK(dataset.bytes.empty());
  CHECK(dataset.class_names == Strings{"rose", "tulip"});
  CHECK(dataset.labels == std::vector<std::int32_t>{0, 1, 0});
  CHECK(dataset.targets.empty());
}

TEST_CASE("csv: label by name, features chosen and ordered by the config, other delimiters") {
  TempDir dir;
  DataSource source = csv_source(dir.write("x.csv", "a;b;y;c\n1;2;yes;3\n4;5;no;6\n"));
  source.delimiter = ';';
  source.label_column = "y";
  source.features = {"c", "a"};
  const Dataset dataset = read_csv(source, LabelKind::classes);
  CHECK(dataset.feature_names == Strings{"c", "a"});
  CHECK(dataset.floats == Floats{3, 1, 6, 4});
  CHECK(dataset.class_names == Strings{"no", "yes"});
  CHECK(dataset.labels == std::vector<std::int32_t>{1, 0});
}

TEST_CASE("csv: without a header the columns are col0.. and the label is the last one") {
  TempDir dir;
  DataSource source = csv_source(dir.write("x.csv", "1,2,10\n3,4,9\n5,6,10\n7,8,-1\n"));
  source.header = false;
  const Dataset dataset = read_csv(source, LabelKind::classes);
  CHECK(dataset.size() == 4);
  CHECK(dataset.feature_names == Strings{"col0", "col1"});
  // Integer labels: classes are the distinct values in numeric (not text) order.
  CHECK(dataset.class_names == Strings{"-1", "9", "10"});
  CHECK(dataset.labels == std::vector<std::int32_t>{2, 1, 2, 0});
}

TEST_CASE("csv: regression targets, and no label column for autoencoders") {
  TempDir dir;
  const auto path = dir.write("x.csv", "a,b,t\n1,2,0.5\n3,4,-1.25\n");
  const Dataset regression = read_csv(csv_source(path), LabelKind::targets);
  CHECK(regression.targets == Floats{0.5f, -1.25f});
  CHECK(regression.target_shape == Shape{1});
  CHECK_FALSE(regression.is_classification());

  const Dataset inputs_only = read_csv(csv_source(path), LabelKind::none);
  CHECK(inputs_only.sample_shape == Shape{3});
  CHECK(inputs_only.feature_names == Strings{"a", "b", "t"});
  CHECK(inputs_only.labels.empty());
  CHECK(inputs_only.targets.empty());
}

TEST_CASE("csv: an unknown label or feature name is a ConfigError at the source, with did-you-mean") {
  TempDir dir;
  const auto path = dir.write("iris.csv", "petal_length,petal_width,species\n1,2,setosa\n");
  DataSource source = csv_source(path);
  source.label_column = "specis";
  CHECK_THROWS_WITH_AS(read_csv(source, LabelKind::classes),
                       ("config.yaml:4:10: label 'specis' is not a column of " + path.string() +
                        " (did you mean 'species'?); columns: petal_length, petal_width, species")
                           .c_str(),
                       ConfigError);
  source.label_column = "";
  source.features = {"petal_length", "petal_widht"};
  CHECK_THROWS_WITH_AS(read_csv(source, LabelKind::classes),
                       ("config.yaml:4:10: feature 'petal_widht' is not a column of " + path.string() +
                        " (did you mean 'petal_width'?); columns: petal_length, petal_width, species")
                           .c_str(),
                       ConfigError);
  source.features = {"species"};
  CHECK_THROWS_WITH_AS(read_csv(source, LabelKind::classes),
                       "config.yaml:4:10: column 'species' is both the label and a feature", ConfigError);
}

TEST_CASE("csv: malformed files give file:line:column and the field number") {
  TempDir dir;
  auto read = [&](const std::string& contents, LabelKind kind = LabelKind::classes) {
    return read_csv(csv_source(dir.write("bad.csv", contents)), kind);
  };
  const std::string file = (dir.path() / "bad.csv").string();

  SUBCASE("a duplicate column name in a header of 100k columns (found in linear time)") {
    std::string header;
    for (int i = 0; i < 100000; ++i) header += "c" + std::to_string(i) + ",";
    const int column = static_cast<int>(header.size()) + 1;
    CHECK_THROWS_WITH_AS(
        read(header + "c7\n"),
        (file + ":1:" + std::to_string(column) + ": field 100001: duplicate column name 'c7'").c_str(),
        DataError);
  }
  SUBCASE("a row with too few fields: the column is just past the line's end") {
    CHECK_THROWS_WITH_AS(read("a,b,c\n1,2,x\n1,2\n"),
                         (file + ":3:4: ragged row: 2 fields, expected 3 as in the header (line 1)").c_str(),
                         DataError);
  }
  SUBCASE("a row with too many fields: the column of the first extra field") {
    CHECK_THROWS_WITH_AS(read("\na,b,c\r\n1,2,x\r\n1,2,x,4\r\n"),
                         (file + ":4:7: ragged row: 4 fields, expected 3 as in the header (line 2)").c_str(),
                         DataError);
  }
  SUBCASE("without a header the first row sets the field count") {
    DataSource source = csv_source(dir.write("bad.csv", "1,2,0\n1,2,0,0\n"));
    source.header = false;
    CHECK_THROWS_WITH_AS(
        read_csv(source, LabelKind::classes),
        (file + ":2:7: ragged row: 4 fields, expected 3 as in the first row (line 1)").c_str(), DataError);
  }
  SUBCASE("a non-numeric cell is quoted, with its field number and column name") {
    CHECK_THROWS_WITH_AS(read("a,b,c\n1,x y,2\n"),
                         (file + ":2:3: field 2 ('b'): expected a number, got 'x y' (to one-hot encode the "
                                 "column, list it in data.categorical)")
                             .c_str(),
                         DataError);
  }
  SUBCASE("an empty cell") {
    CHECK_THROWS_WITH_AS(read("a,b,c\n1,2,x\n1,,x\n"),
                         (file + ":3:3: field 2 ('b'): expected a number, got ''").c_str(), DataError);
  }
  SUBCASE("NaN and infinity are not accepted as features") {
    CHECK_THROWS_WITH_AS(read("a,b,c\nnan,1,x\n"),
                         (file + ":2:1: field 1 ('a'): expected a number, got 'nan'").c_str(), DataError);
    CHECK_THROWS_WITH_AS(read("a,b,c\n1,1e999,x\n"),
                         (file + ":2:3: field 2 ('b'): expected a number, got '1e999'").c_str(), DataError);
  }
  SUBCASE("a non-numeric regression target") {
    CHECK_THROWS_WITH_AS(
        read("a,t\n1,2\n1,high\n", LabelKind::targets),
        (file + ":3:3: field 2 ('t'): expected a numeric regression target, got 'high'").c_str(), DataError);
  }
  SUBCASE("an empty class label") {
    CHECK_THROWS_WITH_AS(read("a,y\n1,\n"), (file + ":2:3: field 2 ('y'): empty label").c_str(), DataError);
  }
  SUBCASE("an unterminated quote") {
    CHECK_THROWS_WITH_AS(read("a,b,c\n1,\"abc,2\n"),
                         (file + ":2:3: field 2: unterminated quoted field").c_str(), DataError);
  }
  SUBCASE("text after a closing quote") {
    CHECK_THROWS_WITH_AS(read("a,b,c\n1,\"ab\"c,2\n"),
                         (file + ":2:7: field 2: unexpected character after the closing quote").c_str(),
                         DataError);
  }
  SUBCASE("a duplicate column name") {
    CHECK_THROWS_WITH_AS(read("a,b,a\n1,2,3\n"), (file + ":1:5: field 3: duplicate column name 'a'").c_str(),
                         DataError);
  }
  SUBCASE("an empty file, or one of blank lines") {
    CHECK_THROWS_WITH_AS(read(""), (file + ": CSV file is empty").c_str(), DataError);
    CHECK_THROWS_WITH_AS(read("\r\n  \n\n"), (file + ": CSV file is empty").c_str(), DataError);
  }
  SUBCASE("a header without data rows") {
    CHECK_THROWS_WITH_AS(read("a,b,c\n\n"), (file + ": CSV file has a header but no data rows").c_str(),
                         DataError);
  }
  SUBCASE("a file with only the label column") {
    CHECK_THROWS_WITH_AS(read("y\n1\n"),
                         (file + ":1: CSV file has no feature columns (only the label 'y')").c_str(),
                         DataError);
  }
  SUBCASE("a missing file") {
    const auto missing = dir.path() / "missing.csv";
    CHECK_THROWS_WITH_AS(read_csv(csv_source(missing), LabelKind::classes),
                         (missing.string() + ": CSV file not found").c_str(), DataError);
  }
}

TEST_CASE("csv: the bundled iris and xor files") {
  DataSource iris = csv_source(std::filesystem::path(DLRUN_SOURCE_DIR) / "data/iris.csv");
  iris.label_column = "species";
  const Dataset dataset = read_csv(iris, LabelKind::classes);
  CHECK(dataset.size() == 150);
  CHECK(dataset.feature_names == Strings{"sepal_length", "sepal_width", "petal_length", "petal_width"});
  CHECK(dataset.class_names == Strings{"setosa", "versicolor", "virginica"});
  std::vector<int> per_class(3, 0);
  for (const auto label : dataset.labels) ++per_class[static_cast<std::size_t>(label)];
  CHECK(per_class == std::vector<int>{50, 50, 50});
  CHECK(dataset.floats[0] == 5.1f);  // the first row: 5.1, 3.5, 1.4, 0.2, setosa
  CHECK(dataset.floats[3] == 0.2f);

  const Dataset xor_data =
      read_csv(csv_source(std::filesystem::path(DLRUN_SOURCE_DIR) / "data/xor.csv"), LabelKind::classes);
  CHECK(xor_data.floats == Floats{0, 0, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1});
  CHECK(xor_data.labels == std::vector<std::int32_t>{0, 1, 1, 0});
  CHECK(xor_data.class_names == Strings{"0", "1"});
}
