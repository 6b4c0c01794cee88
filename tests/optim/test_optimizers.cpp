// Every element-wise optimizer replays 50 steps of torch.optim (ftrl: the numpy reference) on the
// fixtures' least-squares problem; plus state naming, checkpoint round trips and trainable-only.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "optim/optim_test_support.hpp"
#include "optim/sgd.hpp"
#include "support/fixtures.hpp"

using namespace dlrun;
using dlrun::testing::close;
using dlrun::testing::LeastSquares;
using dlrun::testing::load_fixture;
using dlrun::testing::options_node;

namespace {

const nlohmann::json& optimizer_fixture() {
  static const nlohmann::json fixture = load_fixture("fixtures/optim/optimizers.json");
  return fixture;
}

std::unique_ptr<Optimizer> build(const nlohmann::json& test_case, LeastSquares& problem) {
  const Node node = options_node(test_case.at("options"));
  Options options(node, "optimizer");
  auto optimizer = make_optimizer(test_case.at("type").get<std::string>(), {}, options, problem.parameters());
  options.finish();
  return optimizer;
}

struct Deviation {
  double loss = 0.0;
  double parameter = 0.0;
};

// Runs steps [first, last) and returns the largest deviations from the fixture, each as
// |actual - expected| / (|expected| + 1e-1), so that 1e-5 means 1e-5 relative for values of order
// one and 1e-6 absolute near zero.
Deviation replay(const nlohmann::json& test_case, LeastSquares& problem, Optimizer& optimizer, int first,
                 int last) {
  Deviation worst;
  for (int step = first; step < last; ++step) {
    const double loss = problem.loss_and_gradients();
    const double expected_loss = test_case["losses"][static_cast<std::size_t>(step)].get<double>();
    worst.loss = std::max(worst.loss, std::abs(loss - expected_loss) / (std::abs(expected_loss) + 1e-1));
    optimizer.step();
    const std::vector<float> actual = problem.flat_parameters();
    const auto& expected = test_case["params"][static_cast<std::size_t>(step)];
    REQUIRE(expected.size() == actual.size());
    for (std::size_t i = 0; i < actual.size(); ++i) {
      const double e = expected[i].get<double>();
      worst.parameter = std::max(worst.parameter, std::abs(actual[i] - e) / (std::abs(e) + 1e-1));
    }
  }
  return worst;
}

}  // namespace

TEST_CASE("optimizers: 50 steps match torch.optim (ftrl: the Keras formula) on least squares") {
  const auto& fixture = optimizer_fixture();
  const int steps = fixture.at("steps").get<int>();
  std::set<std::string> covered;
  for (const auto& test_case : fixture.at("cases")) {
    const std::string name = test_case.at("name").get<std::string>();
    CAPTURE(name);
    LeastSquares problem(fixture.at("problem"));
    auto optimizer = build(test_case, problem);
    CHECK(optimizer->type() == test_case.at("type").get<std::string>());
    const Deviation worst = replay(test_case, problem, *optimizer, 0, steps);
    MESSAGE(name << ": max deviation loss " << worst.loss << ", parameters " << worst.parameter);
    CHECK(worst.loss <= 1e-5);
    CHECK(worst.parameter <= 1e-5);
    covered.insert(test_case.at("type").get<std::string>());
  }
  // Every optimizer type except lbfgs (tests/optim/test_lbfgs.cpp) has a trajectory.
  for (const std::string& type : optimizer_types()) {
    if (type != "lbfgs") CHECK_MESSAGE(covered.contains(type), "no fixture for " << type);
  }
}

TEST_CASE("optimizers: state saved after 20 steps and loaded into a fresh optimizer continues exactly") {
  const auto& fixture = optimizer_fixture();
  const int steps = fixture.at("steps").get<int>();
  for (const auto& test_case : fixture.at("cases")) {
    const std::string name = test_case.at("name").get<std::string>();
    CAPTURE(name);
    LeastSquares first(fixture.at("problem"));
    auto original = build(test_case, first);
    replay(test_case, first, *original, 0, 20);

    // A "checkpoint": parameters, state tensors, scalars.
    LeastSquares second(fixture.at("problem"));
    second.weight.value = first.weight.value;
    second.bias.value = first.bias.value;
    auto resumed = build(test_case, second);
    auto saved = original->state_tensors();
    auto target = resumed->state_tensors();
    REQUIRE(saved.size() == target.size());
    for (std::size_t i = 0; i < saved.size(); ++i) {
      CHECK(saved[i].first == target[i].first);
      *target[i].second = *saved[i].second;
    }
    resumed->set_state_scalars(original->state_scalars());
    CHECK(resumed->state_scalars() == original->state_scalars());
    const Deviation worst = replay(test_case, second, *resumed, 20, steps);
    CHECK(worst.parameter <= 1e-5);
  }
}

TEST_CASE("optimizers: state tensors use torch's state keys, allocated at construction") {
  const auto& fixture = optimizer_fixture();
  const std::vector<std::pair<nlohmann::json, std::vector<std::string>>> expectations = {
      {{{"type", "sgd"}, {"options", {{"lr", 0.1}}}}, {}},
      {{{"type", "sgd"}, {"options", {{"lr", 0.1}, {"momentum", 0.9}}}}, {"momentum_buffer"}},
      {{{"type", "adam"}, {"options", nlohmann::json::object()}}, {"exp_avg", "exp_avg_sq"}},
      {{{"type", "adamw"}, {"options", {{"amsgrad", true}}}}, {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}},
      {{{"type", "nadam"}, {"options", nlohmann::json::object()}}, {"exp_avg", "exp_avg_sq"}},
      {{{"type", "rmsprop"}, {"options", {{"momentum", 0.5}, {"centered", true}}}},
       {"square_avg", "momentum_buffer", "grad_avg"}},
      {{{"type", "adagrad"}, {"options", nlohmann::json::object()}}, {"sum"}},
      {{{"type", "adadelta"}, {"options", nlohmann::json::object()}}, {"square_avg", "acc_delta"}},
      {{{"type", "ftrl"}, {"options", nlohmann::json::object()}}, {"accumulator", "linear"}},
  };
  for (const auto& [spec, slots] : expectations) {
    CAPTURE(spec.dump());
    LeastSquares problem(fixture.at("problem"));
    auto optimizer = build(spec, problem);
    std::vector<std::string> expected;
    for (const std::string parameter : {"fc.weight", "fc.bias"}) {
      for (const auto& slot : slots) expected.push_back(parameter + "." + slot);
    }
    std::vector<std::string> names;
    for (const auto& [name, tensor] : optimizer->state_tensors()) {
      names.push_back(name);
      CHECK(tensor->shape() ==
            (name.starts_with("fc.weight") ? problem.weight.value.shape() : problem.bias.value.shape()));
    }
    CHECK(names == expected);
    CHECK(optimizer->state_scalars().at("step") == 0.0);
  }
  // Initial values: adagrad's and ftrl's accumulators start at initial_accumulator_value.
  LeastSquares problem(fixture.at("problem"));
  auto adagrad = build({{"type", "adagrad"}, {"options", {{"initial_accumulator_value", 0.25}}}}, problem);
  for (const auto& [name, tensor] : adagrad->state_tensors()) CHECK((*tensor)[0] == 0.25f);
  auto ftrl = build({{"type", "ftrl"}, {"options", nlohmann::json::object()}}, problem);
  CHECK((*ftrl->state_tensors()[0].second)[0] == doctest::Approx(0.1));
  // nadam keeps mu_product per parameter as a scalar.
  auto nadam = build({{"type", "nadam"}, {"options", nlohmann::json::object()}}, problem);
  CHECK(nadam->state_scalars().at("fc.weight.mu_product") == 1.0);
}

TEST_CASE("optimizers: only trainable parameters are updated and have state") {
  Parameter weight{"weight", Tensor(Shape{3}, 1.0f), Tensor(Shape{3}, 0.5f)};
  Parameter running_mean{"running_mean", Tensor(Shape{3}, 2.0f), Tensor(Shape{3}, 0.5f)};
  running_mean.trainable = false;
  for (const std::string& type : optimizer_types()) {
    if (type == "lbfgs") continue;
    CAPTURE(type);
    weight.value.fill(1.0f);
    const Node node = Node::map();
    Options options(node, "optimizer");
    auto optimizer =
        make_optimizer(type, {}, options, {{"bn.weight", &weight}, {"bn.running_mean", &running_mean}});
    optimizer->step();
    CHECK(weight.value[0] != 1.0f);
    CHECK(running_mean.value[0] == 2.0f);
    for (const auto& [name, tensor] : optimizer->state_tensors()) CHECK(name.starts_with("bn.weight."));
  }
}

TEST_CASE("sgd: the momentum buffer starts as the first gradient, not (1 - dampening) times it") {
  Parameter w{"w", Tensor(Shape{1}, 0.0f), Tensor(Shape{1}, 1.0f)};
  SgdSpec spec;
  spec.lr = 0.1;
  spec.momentum = 0.9;
  spec.dampening = 0.5;
  Sgd sgd(spec, {{"w", &w}});
  sgd.step();  // buf = 1, w = -0.1
  CHECK((*sgd.state_tensors()[0].second)[0] == 1.0f);
  CHECK(w.value[0] == doctest::Approx(-0.1));
  sgd.step();  // buf = 0.9 * 1 + 0.5 * 1 = 1.4, w = -0.1 - 0.14
  CHECK((*sgd.state_tensors()[0].second)[0] == doctest::Approx(1.4));
  CHECK(w.value[0] == doctest::Approx(-0.24));
}

TEST_CASE("optimizers: the learning rate set by a schedule is the one used") {
  Parameter w{"w", Tensor(Shape{1}, 0.0f), Tensor(Shape{1}, 1.0f)};
  Sgd sgd(SgdSpec{}, {{"w", &w}});
  CHECK(sgd.initial_learning_rate() == 0.01);
  sgd.set_learning_rate(0.5);
  sgd.step();
  CHECK(w.value[0] == doctest::Approx(-0.5));
  CHECK(sgd.initial_learning_rate() == 0.01);
}
