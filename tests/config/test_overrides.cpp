#include <doctest/doctest.h>

#include "config/config_test_util.hpp"
#include "config/overrides.hpp"
#include "config/yaml_loader.hpp"

using namespace dlrun;
using dlrun::testing::config_error;

namespace {

Node sample_tree() {
  return parse_yaml(
      "model:\n"
      "  layers:\n"
      "    - {type: conv2d, name: conv1, filters: 32}\n"
      "    - {type: flatten}\n"
      "    - {type: dense, name: fc1, units: 128}\n"
      "    - {type: dropout, rate: 0.5}\n"
      "    - {type: dense, units: 10}\n"
      "optimizer: {type: adam, lr: 0.001}\n"
      "train:\n"
      "search:\n"
      "  space:\n"
      "    optimizer.lr: {loguniform: [1.0e-4, 1.0e-1]}\n",
      "cfg.yaml");
}

void set(Node& tree, const std::string& assignment) {
  apply_override(tree, assignment, "--set " + assignment);
}

}  // namespace

TEST_CASE("overrides: a list element by index or by name, the value located at the --set") {
  Node tree = sample_tree();
  set(tree, "model.layers.fc1.units=64");
  const Node* units = find_path(tree, "model.layers.2.units");
  REQUIRE(units != nullptr);
  CHECK(units->text() == "64");
  CHECK_FALSE(units->quoted());
  CHECK(units->where().to_string() == "--set model.layers.fc1.units=64");

  set(tree, "model.layers.3.rate=0.25");
  CHECK(find_path(tree, "model.layers.3.rate")->text() == "0.25");
  // Default names count the elements of each type from 1: the second dense is dense_2.
  set(tree, "model.layers.dense_2.units=3");
  CHECK(tree.find("model")->find("layers")->items()[4].find("units")->text() == "3");
  CHECK(find_path(tree, "model.layers.dropout_1.rate")->text() == "0.25");
  // The rest of the tree is untouched, locations included.
  CHECK(find_path(tree, "model.layers.conv1.filters")->where().to_string() == "cfg.yaml:3:44");
}

TEST_CASE("overrides: missing mapping keys are created, null sections become mappings") {
  Node tree = sample_tree();
  set(tree, "optimizer.weight_decay=0.01");
  const Node& optimizer = *tree.find("optimizer");
  REQUIRE(optimizer.entries().size() == 3);
  CHECK(optimizer.entries()[2].key == "weight_decay");
  CHECK(optimizer.entries()[2].key_where.to_string() == "--set optimizer.weight_decay=0.01");

  set(tree, "train.epochs=5");  // `train:` was empty
  CHECK(find_path(tree, "train.epochs")->text() == "5");
  set(tree, "cv.folds=3");  // no `cv:` at all
  CHECK(find_path(tree, "cv.folds")->as_int("folds") == 3);
  set(tree, "train.early_stopping.patience=2");
  CHECK(find_path(tree, "train.early_stopping.patience")->text() == "2");
  set(tree, "modle.x=1");  // created; validation reports it as unknown, at the --set
  CHECK(find_path(tree, "modle.x") != nullptr);
  CHECK(find_path(tree, "nothing.here") == nullptr);
}

TEST_CASE("overrides: values are YAML: quoted strings, flow lists and maps, empty is null") {
  Node tree = sample_tree();
  set(tree, "name='123'");
  CHECK(tree.find("name")->quoted());
  set(tree, "metrics=[accuracy, f1]");
  const Node* metrics = tree.find("metrics");
  REQUIRE(metrics->is_sequence());
  CHECK(metrics->items().size() == 2);
  CHECK(metrics->items()[1].text() == "f1");
  CHECK(metrics->items()[1].where().to_string() == "--set metrics=[accuracy, f1]");
  set(tree, "optimizer={type: sgd, lr: 0.1}");
  CHECK(find_path(tree, "optimizer.type")->text() == "sgd");
  CHECK(find_path(tree, "optimizer.lr")->text() == "0.1");
  CHECK(tree.find("optimizer")->entries().size() == 2);
  set(tree, "model.layers.fc1={type: dense, units: 7}");  // a whole element, by name
  CHECK(find_path(tree, "model.layers.2.units")->text() == "7");
  CHECK(find_path(tree, "model.layers.dense_1.units")->text() == "7");
  set(tree, "train.shuffle=");
  CHECK(find_path(tree, "train.shuffle")->is_null());
  set(tree, "search.space.optimizer.lr.loguniform=[0.01, 0.1]");  // a key with a dot in it
  CHECK(find_path(tree, "search.space.optimizer.lr.loguniform.0")->text() == "0.01");
}

TEST_CASE("overrides: bad paths name the path, with a did-you-mean among element names") {
  Node tree = sample_tree();
  CHECK(config_error([&] { set(tree, "model.layers.fc2.units=64"); }) ==
        "--set model.layers.fc2.units=64: 'model.layers' has no element named 'fc2' (did you mean 'fc1'?); "
        "indices go 0..4, names are conv1, flatten_1, fc1, dropout_1, dense_2");
  CHECK(config_error([&] { set(tree, "model.layers.7.units=64"); }) ==
        "--set model.layers.7.units=64: 'model.layers' has no element 7 (indices go 0..4)");
  CHECK(config_error([&] { set(tree, "optimizer.lr.x=1"); }) ==
        "--set optimizer.lr.x=1: 'optimizer.lr' is a single value ('0.001'), so it has no 'x'");
  CHECK(config_error([&] { set(tree, "model..units=1"); }).find("bad path 'model..units'") !=
        std::string::npos);
  CHECK(config_error([&] { set(tree, "train.epochs"); }) ==
        "--set train.epochs: expected PATH=VALUE, e.g. --set train.epochs=5");
  CHECK(config_error([&] { set(tree, "=5"); }).find("expected PATH=VALUE") != std::string::npos);
  CHECK(config_error([&] { set(tree, "train.epochs=[1,"); }).find("--set train.epochs=[1,: ") == 0);
  CHECK_THROWS_AS(find_path(tree, "model.layers.nope"), ConfigError);
}

TEST_CASE("overrides: element names are explicit names or <type>_<n>") {
  const Node layers =
      parse_yaml_value("[{type: dense}, {type: relu}, {type: dense, name: out}, {type: dense}, 5]", "o");
  const std::vector<std::string> expected = {"dense_1", "relu_1", "out", "dense_3", ""};
  CHECK(element_names(layers) == expected);
}
