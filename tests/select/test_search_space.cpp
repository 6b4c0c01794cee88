// search.space parsing, its error messages, values as config/CSV/JSON, and grid enumeration.
#include <doctest/doctest.h>

#include <cmath>

#include "config/overrides.hpp"
#include "config/yaml_loader.hpp"
#include "select/search_test_support.hpp"
#include "select/strategy.hpp"
#include "support/messages.hpp"

using namespace dlrun;
using dlrun::testing::contains;
using dlrun::testing::message_of;
using dlrun::testing::space_of;

namespace {

std::string space_error(const std::string& yaml) {
  return message_of([&] { space_of(yaml); });
}

}  // namespace

TEST_CASE("search space: every distribution, named choices and grid points") {
  const SearchSpace space = space_of(
      "space:\n"
      "  optimizer.lr: {loguniform: [1.0e-4, 1.0e-1], grid: [1.0e-3, 1.0e-2]}\n"
      "  model.layers.fc1.units: {choice: [16, 32]}\n"
      "  model.layers.drop.rate: {uniform: [0.0, 0.5]}\n"
      "  train.batch_size: {int_log: [8, 128]}\n"
      "  train.epochs: {int: [2, 4], grid: [2, 4]}\n"
      "  model.layers: {choice: {small: [{type: dense, units: 3}], big: [{type: dense, units: 9}]}}\n");
  REQUIRE(space.dimensions.size() == 6);
  const Dimension& lr = space.dimensions[0];
  CHECK(lr.distribution == Distribution::loguniform);
  CHECK(lr.is_log());
  CHECK(lr.low == 1.0e-4);
  CHECK(lr.grid == std::vector<double>{1.0e-3, 1.0e-2});
  CHECK(lr.where.line == 2);
  CHECK(lr.where.column == 3);
  CHECK(space.dimensions[1].labels == std::vector<std::string>{"16", "32"});
  CHECK(space.dimensions[3].is_integer());
  CHECK(space.dimensions[5].labels == std::vector<std::string>{"small", "big"});

  // Values as trials.csv, JSON and the config see them.
  CHECK(value_text(lr, 0.001) == "0.001");
  CHECK(value_json(space.dimensions[1], 1).get<int>() == 32);
  CHECK(value_text(space.dimensions[3], 16.0) == "16");
  CHECK(value_json(space.dimensions[5], 1).get<std::string>() == "big");
  Node tree = parse_yaml(
      "model: {layers: [{type: dense, name: fc1, units: 4}, {type: dropout, name: drop}]}\n"
      "optimizer: {lr: 1}\n",
      "c.yaml");
  const Node applied = apply_point(space, {0.003, 1, 0.25, 16, 2, 0}, tree);
  CHECK(find_path(applied, "optimizer.lr")->text() == "0.003");
  CHECK(find_path(applied, "train.batch_size")->text() == "16");
  CHECK(find_path(applied, "model.layers.0.units")->text() == "3");  // the named choice replaced the list
}

TEST_CASE("search space: errors name the key's file:line:col and say what is wrong") {
  CHECK(contains(space_error("space:\n  optimizer.lr: {log_uniform: [1.0e-4, 1.0e-1]}\n"),
                 "s.yaml:2:18: search.space.optimizer.lr: unknown distribution 'log_uniform' "
                 "(did you mean 'loguniform'?)"));
  CHECK(contains(space_error("space:\n  optimizer.lr: {loguniform: [0, 1.0e-1]}\n"),
                 "a log scale needs low > 0, got 0"));
  CHECK(contains(space_error("space:\n  optimizer.lr: {uniform: [0.5, 0.1]}\n"),
                 "s.yaml:2:27: search.space.optimizer.lr.uniform: low must be < high, got [0.5, 0.1]"));
  CHECK(contains(space_error("space:\n  optimizer.lr: {uniform: [0.5]}\n"), "expected [low, high]"));
  CHECK(contains(space_error("space:\n  train.epochs: {int: [1, 2.5]}\n"), "bounds must be integers"));
  CHECK(contains(space_error("space:\n  optimizer.lr: {uniform: [0, 1], grid: [0.5, 2]}\n"),
                 "grid point 2 is outside [0, 1]"));
  CHECK(contains(space_error("space:\n  x: {choice: []}\n"), "choice: expected a non-empty list"));
  CHECK(contains(space_error("space:\n  x: {choice: [1, 1]}\n"), "choice '1' is listed twice"));
  CHECK(contains(space_error("space:\n  x: {choice: [1], uniform: [0, 1]}\n"), "two distributions"));
  CHECK(contains(space_error("space:\n  x: 5\n"), "s.yaml:2:6: search.space.x: expected a distribution"));
  CHECK(contains(space_error("space: {}\n"), "expected a mapping from override paths"));
}

TEST_CASE("grid: the product of choices and grid points, last dimension fastest") {
  const SearchSpace space = space_of(
      "space:\n"
      "  a: {choice: [x, y, z]}\n"
      "  b: {loguniform: [1.0e-4, 1.0], grid: [0.001, 0.01]}\n");
  const std::vector<Point> points = grid_points(space);
  REQUIRE(points.size() == 6);
  CHECK(points[0] == Point{0, 0.001});
  CHECK(points[1] == Point{0, 0.01});
  CHECK(points[5] == Point{2, 0.01});
  // A continuous dimension without grid points cannot be enumerated.
  const SearchSpace open = space_of("space:\n  a: {choice: [1, 2]}\n  b: {uniform: [0, 1]}\n");
  CHECK(contains(message_of([&] { grid_points(open); }),
                 "s.yaml:3:3: search.space.b: a grid search needs the points of a continuous dimension"));
}

TEST_CASE("uniform samples stay in bounds, are written exactly, and integers are integers") {
  const SearchSpace space = space_of(
      "space:\n"
      "  a: {loguniform: [1.0e-5, 1.0]}\n"
      "  b: {int_log: [1, 64]}\n"
      "  c: {int: [-2, 2]}\n"
      "  d: {choice: [p, q]}\n");
  Rng rng(3);
  int low_half = 0;
  std::vector<int> seen_c(5, 0);
  for (int i = 0; i < 2000; ++i) {
    const Point p = sample_uniform(space, rng);
    CHECK(p[0] >= 1.0e-5);
    CHECK(p[0] <= 1.0);
    CHECK(p[0] == round_to_written(space.dimensions[0], p[0]));  // what trials.csv shows is what trains
    CHECK(p[1] == std::round(p[1]));
    CHECK(p[1] >= 1);
    CHECK(p[1] <= 64);
    ++seen_c[static_cast<std::size_t>(p[2] + 2)];
    if (p[0] < std::sqrt(1.0e-5)) ++low_half;  // log-uniform: half below the geometric middle
  }
  CHECK(low_half > 900);
  CHECK(low_half < 1100);
  for (const int count : seen_c) CHECK(count > 300);  // every integer of [-2, 2], including the ends
}
