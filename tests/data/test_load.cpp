#include <doctest/doctest.h>

#include <cmath>
#include <numeric>

#include "core/errors.hpp"
#include "data/load.hpp"
#include "data/temp_files.hpp"
#include "support/fixtures.hpp"

using namespace dlrun;
using dlrun::testing::TempDir;
using dlrun::testing::test_data_path;

namespace {

const std::filesystem::path kIris = std::filesystem::path(DLRUN_SOURCE_DIR) / "data/iris.csv";
using Strings = std::vector<std::string>;

DataSource csv(const std::filesystem::path& path, std::string label = "") {
  return dlrun::testing::csv_source(path, std::move(label), Location{"run.yaml", 3, 10});
}

DataConfig iris_config() {
  DataConfig config;
  config.train = csv(kIris, "species");
  config.validation.kind = ValidationSpec::Kind::split;
  config.validation.fraction = 0.2;
  config.normalize = "standard";
  return config;
}

std::vector<int> view_class_counts(const DataView& view) {
  std::vector<int> counts(view.dataset->class_names.size(), 0);
  for (const Index row : view.rows)
    ++counts[static_cast<std::size_t>(view.dataset->labels[static_cast<std::size_t>(row)])];
  return counts;
}

// An iris-like CSV with the given species rows (features are arbitrary).
std::string iris_rows(const Strings& species) {
  std::string text = "sepal_length,sepal_width,petal_length,petal_width,species\n";
  for (const auto& name : species) text += "1,2,3,4," + name + "\n";
  return text;
}

}  // namespace

TEST_CASE("load: iris with a stratified validation split; the transform sees training rows only") {
  const LoadedData data = load_data(iris_config(), true, 42);
  CHECK(data.train.size() == 120);
  CHECK(data.validation.size() == 30);
  CHECK(data.test.empty());
  CHECK(data.train.dataset == data.validation.dataset);  // a split shares the rows' storage
  CHECK(view_class_counts(data.validation) == std::vector<int>{10, 10, 10});
  CHECK(view_class_counts(data.train) == std::vector<int>{40, 40, 40});

  // Recompute feature 0's statistics over the training rows: x' = (x - mean) / std.
  const Dataset& dataset = *data.train.dataset;
  double sum = 0, squares = 0, all_sum = 0;
  for (const Index row : data.train.rows) sum += dataset.raw(row, 0);
  const double mean = sum / 120.0;
  for (const Index row : data.train.rows)
    squares += (dataset.raw(row, 0) - mean) * (dataset.raw(row, 0) - mean);
  const double stddev = std::sqrt(squares / 120.0);
  for (Index row = 0; row < 150; ++row) all_sum += dataset.raw(row, 0);
  CHECK(data.transform.multiplier[0] == doctest::Approx(1.0 / stddev).epsilon(1e-5));
  CHECK(data.transform.offset[0] == doctest::Approx(-mean / stddev).epsilon(1e-5));
  CHECK(std::abs(mean - all_sum / 150.0) > 1e-4);  // the held-out rows would have moved the mean
}

TEST_CASE("load: the split is drawn from Rng::for_stream(seed, \"split\") and is reproducible") {
  const DataConfig config = iris_config();
  const LoadedData a = load_data(config, true, 7);
  const LoadedData b = load_data(config, true, 7);
  const LoadedData c = load_data(config, true, 8);
  CHECK(a.validation.rows == b.validation.rows);
  CHECK(a.train.rows == b.train.rows);
  CHECK(a.validation.rows != c.validation.rows);

  std::vector<Index> rows(150);
  std::iota(rows.begin(), rows.end(), Index{0});
  Rng rng = Rng::for_stream(7, "split");
  const Split expected = split_rows(*a.train.dataset, rows, 0.2, rng);
  CHECK(a.validation.rows == expected.held_out);
  CHECK(a.train.rows == expected.train);
}

TEST_CASE("load: test and validation files map their classes by name onto train's") {
  TempDir dir;
  DataConfig config = iris_config();
  config.validation.kind = ValidationSpec::Kind::source;
  config.validation.source = csv(dir.write("val.csv", iris_rows({"versicolor", "virginica"})), "species");
  config.test = csv(dir.write("test.csv", iris_rows({"virginica", "setosa", "virginica"})), "species");
  const LoadedData data = load_data(config, true, 1);
  CHECK(data.train.size() == 150);
  REQUIRE(data.test.size() == 3);
  const Dataset& test = *data.test.dataset;
  CHECK(test.class_names == Strings{"setosa", "versicolor", "virginica"});
  CHECK(test.labels == std::vector<std::int32_t>{2, 0, 2});
  CHECK(data.validation.dataset->labels == std::vector<std::int32_t>{1, 2});
  CHECK(data.validation.size() == 2);
}

TEST_CASE("load: inconsistent test data is a DataError naming both files") {
  TempDir dir;
  DataConfig config = iris_config();
  SUBCASE("an unknown class") {
    const auto test = dir.write("test.csv", iris_rows({"setosa", "rose"}));
    config.test = csv(test, "species");
    CHECK_THROWS_WITH_AS(load_data(config, true, 1),
                         ("class 'rose' of " + test.string() + " does not occur in the training data " +
                          kIris.string() + " (classes: setosa, versicolor, virginica)")
                             .c_str(),
                         DataError);
  }
  SUBCASE("a different number of features") {
    const auto test = dir.write("test.csv", "a,b,c,species\n1,2,3,setosa\n");
    config.test = csv(test, "species");
    CHECK_THROWS_WITH_AS(load_data(config, true, 1),
                         ("examples of shape [3] in " + test.string() +
                          ", but of shape [4] in the training data " + kIris.string())
                             .c_str(),
                         DataError);
  }
  SUBCASE("different feature columns") {
    const auto test = dir.write("test.csv", "a,b,c,d,species\n1,2,3,4,setosa\n");
    config.test = csv(test, "species");
    CHECK_THROWS_WITH_AS(
        load_data(config, true, 1),
        ("feature columns differ: " + test.string() + " has [a, b, c, d], the training data " +
         kIris.string() + " has [sepal_length, sepal_width, petal_length, petal_width]")
            .c_str(),
        DataError);
  }
  SUBCASE("a missing file exits with 3") {
    config.test = csv(dir.path() / "missing.csv", "species");
    try {
      load_data(config, true, 1);
      FAIL("no exception");
    } catch (const DataError& error) {
      CHECK(error.exit_code() == 3);
      CHECK(std::string(error.what()) == (dir.path() / "missing.csv").string() + ": CSV file not found");
    }
  }
}

TEST_CASE("load: config mistakes in a source are ConfigErrors at its location") {
  DataConfig config;
  config.train.format = "csvv";
  config.train.where = Location{"run.yaml", 5, 3};
  CHECK_THROWS_WITH_AS(load_data(config, true, 1),
                       "run.yaml:5:3: unknown data format 'csvv' (did you mean 'csv'?); expected idx, csv, "
                       "npy, text, timeseries or image_folder",
                       ConfigError);
  config.train.format = "idx";
  CHECK_THROWS_WITH_AS(load_data(config, true, 1), "run.yaml:5:3: a data source of format idx needs 'images'",
                       ConfigError);
  config.train.images = test_data_path("files/tiny-images-idx3-ubyte");
  CHECK_THROWS_WITH_AS(load_data(config, true, 1), "run.yaml:5:3: a data source of format idx needs 'labels'",
                       ConfigError);
  config.target = "inputs";  // an autoencoder needs no labels
  CHECK(load_data(config, false, 1).train.size() == 4);
}

TEST_CASE("load: as_sequence turns {1, H, W} images into {H, W}; other shapes are a ConfigError") {
  DataConfig config;
  config.train.format = "idx";
  config.train.images = test_data_path("files/tiny-images-idx3-ubyte");
  config.train.labels = test_data_path("files/tiny-labels-idx1-ubyte.gz");
  config.test = config.train;
  config.as_sequence = true;
  config.scale = 255;
  const LoadedData data = load_data(config, true, 1);
  CHECK(data.train.dataset->sample_shape == Shape{2, 3});
  CHECK(data.test.dataset->sample_shape == Shape{2, 3});
  CHECK(data.transform.multiplier == std::vector<float>(6, 1.0f / 255.0f));

  DataConfig iris = iris_config();
  iris.as_sequence = true;
  CHECK_THROWS_WITH_AS(load_data(iris, true, 1),
                       ("run.yaml:3:10: as_sequence needs images of shape [1, H, W] (or sequences [T, F]); " +
                        kIris.string() + " has examples of shape [4]")
                           .c_str(),
                       ConfigError);
}

TEST_CASE("load: text data keeps an identity transform and remaps a test text onto train's vocabulary") {
  TempDir dir;
  DataConfig config;
  config.train.format = "text";
  config.train.path = test_data_path("files/hello.txt");
  config.train.sequence_length = 2;
  config.test = config.train;
  config.test->path = dir.write("test.txt", "low");
  const LoadedData data = load_data(config, true, 1);
  const Dataset& test = *data.test.dataset;
  // Train vocabulary: ' ' d e h l o r w -> l=4, o=5, w=7.
  CHECK(test.class_names == data.train.dataset->class_names);
  CHECK(test.bytes == std::vector<std::uint8_t>{4, 5});
  CHECK(test.labels == std::vector<std::int32_t>{5, 7});
  CHECK(data.transform.multiplier == std::vector<float>{1, 1});
  CHECK(data.transform.offset == std::vector<float>{0, 0});

  config.test->path = dir.write("test.txt", "lowz");
  CHECK_THROWS_AS(load_data(config, true, 1), DataError);
  config.test.reset();
  config.normalize = "standard";
  CHECK_THROWS_WITH_AS(load_data(config, true, 1),
                       "data.scale and data.normalize do not apply to text data (its inputs are token ids)",
                       ConfigError);
}

TEST_CASE("load: regression and autoencoder CSVs") {
  TempDir dir;
  const auto path = dir.write("r.csv", "a,b,y\n1,2,0.5\n2,3,1.5\n3,4,2.5\n4,5,3.5\n");
  DataConfig config;
  config.train = csv(path);
  config.validation.kind = ValidationSpec::Kind::split;
  config.validation.fraction = 0.25;
  const LoadedData regression = load_data(config, false, 3);
  CHECK(regression.train.size() == 3);
  CHECK(regression.validation.size() == 1);
  CHECK(regression.train.dataset->target_shape == Shape{1});
  CHECK(regression.train.dataset->targets == std::vector<float>{0.5f, 1.5f, 2.5f, 3.5f});

  config.target = "inputs";
  const LoadedData autoencoder = load_data(config, false, 3);
  CHECK(autoencoder.train.dataset->sample_shape == Shape{3});
  CHECK(autoencoder.train.dataset->targets.empty());
}

TEST_CASE("load: the real Fashion-MNIST with a stratified validation split and the test set") {
  const std::filesystem::path folder = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(folder / "train-images-idx3-ubyte.gz")) {
    MESSAGE("skipped: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
    return;
  }
  DataConfig config;
  config.train.format = "idx";
  config.train.images = folder / "train-images-idx3-ubyte.gz";
  config.train.labels = folder / "train-labels-idx1-ubyte.gz";
  config.test = DataSource{};
  config.test->format = "idx";
  config.test->images = folder / "t10k-images-idx3-ubyte.gz";
  config.test->labels = folder / "t10k-labels-idx1-ubyte.gz";
  config.validation.kind = ValidationSpec::Kind::split;
  config.validation.fraction = 0.1;
  config.scale = 255;
  const LoadedData data = load_data(config, true, 42);
  CHECK(data.train.size() == 54000);
  CHECK(data.validation.size() == 6000);
  CHECK(data.test.size() == 10000);
  CHECK(view_class_counts(data.validation) == std::vector<int>(10, 600));
  CHECK(view_class_counts(data.test) == std::vector<int>(10, 1000));
  Tensor batch;
  gather_inputs(*data.train.dataset, std::span(data.train.rows).first(64), data.transform, batch);
  CHECK(batch.shape() == Shape{64, 1, 28, 28});
  const auto [low, high] = std::minmax_element(batch.values().begin(), batch.values().end());
  CHECK(*low >= 0.0f);
  CHECK(*high <= 1.0f);
  CHECK(*high > 0.5f);
}
