// Optimizer options: defaults, range checks and their locations, unknown types and keys with
// did-you-mean, and the lbfgs/schedule rule.
#include <doctest/doctest.h>

#include "optim/adam.hpp"
#include "optim/lbfgs.hpp"
#include "optim/optim_test_support.hpp"
#include "optim/schedule.hpp"
#include "optim/sgd.hpp"

using namespace dlrun;
using dlrun::testing::options_node;

namespace {

Parameter weight{"w", Tensor(Shape{2}), Tensor(Shape{2})};

std::unique_ptr<Optimizer> build(const std::string& type, const nlohmann::json& options_json) {
  const Node node = options_node(options_json);
  Options options(node, "optimizer");
  auto optimizer = make_optimizer(type, Location{"test.yaml", 7, 9}, options, {{"w", &weight}});
  options.finish();
  return optimizer;
}

ConfigError optimizer_error(const std::string& type, const nlohmann::json& options_json) {
  try {
    build(type, options_json);
  } catch (const ConfigError& error) {
    return error;
  }
  return ConfigError("no error");
}

}  // namespace

TEST_CASE("optimizer options: torch's defaults (sgd's lr defaults to 0.01)") {
  CHECK(optimizer_types() == std::vector<std::string>{"sgd", "adam", "adamw", "nadam", "rmsprop", "adagrad",
                                                      "adadelta", "ftrl", "lbfgs"});
  const std::vector<std::pair<std::string, double>> default_lrs = {
      {"sgd", 0.01},     {"adam", 1e-3},    {"adamw", 1e-3}, {"nadam", 2e-3}, {"rmsprop", 1e-2},
      {"adagrad", 1e-2}, {"adadelta", 1.0}, {"ftrl", 1e-3},  {"lbfgs", 1.0}};
  for (const auto& [type, lr] : default_lrs) {
    CAPTURE(type);
    CHECK(build(type, nlohmann::json::object())->initial_learning_rate() == lr);
  }
  Node empty = Node::map();
  Options options(empty, "optimizer");
  const AdamSpec adamw = read_adam_spec(options, true);
  CHECK(adamw.weight_decay == 1e-2);
  CHECK(adamw.beta1 == 0.9);
  CHECK(adamw.beta2 == 0.999);
  const LbfgsSpec lbfgs = read_lbfgs_spec(options);
  CHECK(lbfgs.max_iter == 20);
  CHECK(lbfgs.max_eval == 25);
  CHECK(lbfgs.history_size == 100);
  CHECK_FALSE(lbfgs.strong_wolfe);
  // max_eval follows max_iter unless given.
  const Node node = options_node({{"max_iter", 8}});
  Options lbfgs_options(node, "optimizer");
  CHECK(read_lbfgs_spec(lbfgs_options).max_eval == 10);
  // A null options node (`optimizer: sgd`) is all defaults. Options keeps a reference to its node,
  // so the node must outlive it (a temporary Node() here was read after its lifetime: ASan).
  const Node null_node;
  Options none(null_node, "optimizer");
  CHECK(make_optimizer("sgd", {}, none, {{"w", &weight}})->learning_rate() == 0.01);
}

TEST_CASE("optimizer options: bad values are ConfigErrors at the key") {
  struct Case {
    std::string type;
    nlohmann::json options;
    int line;  // keys are placed in sorted order, one per line; 7 is the type's line
    std::string fragment;
  };
  const std::vector<Case> cases = {
      {"sgd", {{"lr", -0.1}}, 1, "optimizer: lr: must be > 0, got -0.1"},
      {"adam", {{"lr", 0}}, 1, "lr: must be > 0"},
      {"sgd", {{"momentum", -0.5}}, 1, "momentum: must be >= 0"},
      {"sgd", {{"nesterov", true}}, 1, "nesterov: Nesterov momentum requires momentum > 0 and dampening 0"},
      {"sgd", {{"dampening", 0.1}, {"momentum", 0.9}, {"nesterov", true}}, 3, "dampening 0"},
      {"sgd", {{"weight_decay", -1e-4}}, 1, "weight_decay: must be >= 0"},
      {"adam", {{"betas", {0.9, 1.0}}}, 1, "each beta must be in [0, 1), got 1"},
      {"adamw", {{"betas", {-0.1, 0.99}}}, 1, "each beta must be in [0, 1)"},
      {"nadam", {{"betas", {0.9}}}, 1, "expected a list of two numbers"},
      {"adam", {{"eps", 0}}, 1, "eps: must be > 0"},
      {"adam", {{"amsgrad", "yes"}}, 1, "amsgrad"},
      {"nadam", {{"momentum_decay", -1}}, 1, "momentum_decay: must be >= 0"},
      {"rmsprop", {{"alpha", 1.5}}, 1, "alpha: must be in [0, 1]"},
      {"adagrad", {{"lr_decay", -0.1}}, 1, "lr_decay: must be >= 0"},
      {"adagrad", {{"initial_accumulator_value", -1}}, 1, "initial_accumulator_value: must be >= 0"},
      {"adadelta", {{"rho", 1.1}}, 1, "rho: must be in [0, 1]"},
      {"ftrl", {{"learning_rate_power", 0.5}}, 1, "learning_rate_power: must be <= 0"},
      {"ftrl", {{"l1_regularization_strength", -1}}, 1, "must be >= 0"},
      {"lbfgs", {{"max_iter", 0}}, 1, "max_iter: must be >= 1"},
      {"lbfgs", {{"history_size", 0}}, 1, "history_size: must be >= 1"},
      {"lbfgs", {{"line_search", "wolfe"}}, 1, "unknown value 'wolfe'"},
      {"lbfgs", {{"line_search", "strong_wolf"}}, 1, "did you mean 'strong_wolfe'?"},
      {"adamm", nlohmann::json::object(), 7, "unknown optimizer type 'adamm' (did you mean 'adam'?)"},
      {"sdg", nlohmann::json::object(), 7, "did you mean 'sgd'?"},
      {"adam",
       {{"lr", 0.1}, {"weight_decy", 0.1}},
       2,
       "unknown option 'weight_decy' (did you mean 'weight_decay'?)"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.type);
    CAPTURE(c.options.dump());
    const ConfigError error = optimizer_error(c.type, c.options);
    const std::string message = error.what();
    CAPTURE(message);
    CHECK(error.where().file == "test.yaml");
    CHECK(error.where().line == c.line);
    CHECK(message.find(c.fragment) != std::string::npos);
  }
}

TEST_CASE("check_schedule_compatible: lbfgs takes no schedule but a plain constant") {
  auto lbfgs = build("lbfgs", nlohmann::json::object());
  auto sgd = build("sgd", nlohmann::json::object());
  const auto schedule = [](const std::string& type, const nlohmann::json& options_json) {
    const Node node = options_node(options_json);
    Options options(node, "schedule");
    return make_schedule(type, {}, options, {1.0, 10, 5});
  };
  const Location where{"test.yaml", 12, 11};
  const auto cosine = schedule("cosine", nlohmann::json::object());
  try {
    check_schedule_compatible(*lbfgs, *cosine, where);
    FAIL("expected a ConfigError");
  } catch (const ConfigError& error) {
    CHECK(error.where().line == 12);
    CHECK(std::string(error.what()).find("lbfgs cannot take a schedule ('cosine')") != std::string::npos);
  }
  CHECK_NOTHROW(check_schedule_compatible(*lbfgs, *schedule("constant", nlohmann::json::object()), where));
  CHECK_THROWS_AS(check_schedule_compatible(*lbfgs, *schedule("constant", {{"warmup_epochs", 2}}), where),
                  ConfigError);
  CHECK_NOTHROW(check_schedule_compatible(*sgd, *cosine, where));
}
