// lbfgs against torch.optim.LBFGS: step by step on least squares, and the optimum reached on the
// Rosenbrock function and on L2-regularised multinomial logistic regression of iris; plus the
// line-search helpers, state round trip and misuse.
#include <doctest/doctest.h>

#include <cmath>

#include "optim/lbfgs.hpp"
#include "optim/line_search.hpp"
#include "optim/optim_test_support.hpp"
#include "support/fixtures.hpp"

using namespace dlrun;
using dlrun::testing::close;
using dlrun::testing::LeastSquares;
using dlrun::testing::load_fixture;
using dlrun::testing::options_node;
using dlrun::testing::tensor_from_json;

namespace {

const nlohmann::json& lbfgs_fixture() {
  static const nlohmann::json fixture = load_fixture("fixtures/optim/lbfgs.json");
  return fixture;
}

const nlohmann::json& find_case(const std::string& name) {
  for (const auto& test_case : lbfgs_fixture().at("cases")) {
    if (test_case.at("name") == name) return test_case;
  }
  throw std::runtime_error("no lbfgs case " + name);
}

std::unique_ptr<Optimizer> build(const nlohmann::json& options_json, std::vector<ParameterRef> parameters) {
  const Node node = options_node(options_json);
  Options options(node, "optimizer");
  auto optimizer = make_optimizer("lbfgs", {}, options, std::move(parameters));
  options.finish();
  return optimizer;
}

// f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 with its gradient ASSIGNED.
double rosenbrock(Parameter& xy) {
  const double x = xy.value[0], y = xy.value[1];
  xy.grad[0] = static_cast<float>(-2.0 * (1.0 - x) - 400.0 * x * (y - x * x));
  xy.grad[1] = static_cast<float>(200.0 * (y - x * x));
  return (1.0 - x) * (1.0 - x) + 100.0 * (y - x * x) * (y - x * x);
}

// Mean cross-entropy of softmax(features W^T + b) + l2 * sum W^2, gradients ASSIGNED (double).
struct IrisObjective {
  Tensor features;
  std::vector<int> labels;
  double l2;
  Parameter weight{"weight", Tensor(Shape{3, 4}), Tensor(Shape{3, 4})};
  Parameter bias{"bias", Tensor(Shape{3}), Tensor(Shape{3})};

  explicit IrisObjective(const nlohmann::json& iris)
      : features(tensor_from_json(iris.at("features"))),
        labels(iris.at("labels").get<std::vector<int>>()),
        l2(iris.at("l2").get<double>()) {}

  double operator()() {
    const Index n = features.shape()[0];
    double loss = 0.0;
    double grad_w[3][4] = {}, grad_b[3] = {};
    for (Index row = 0; row < n; ++row) {
      double logits[3];
      double largest = -1e300;
      for (int k = 0; k < 3; ++k) {
        logits[k] = bias.value[k];
        for (int j = 0; j < 4; ++j)
          logits[k] += static_cast<double>(weight.value[k * 4 + j]) * features[row * 4 + j];
        largest = std::max(largest, logits[k]);
      }
      double total = 0.0;
      for (double& logit : logits) total += std::exp(logit - largest);
      const int label = labels[static_cast<std::size_t>(row)];
      loss += -(logits[label] - largest - std::log(total)) / static_cast<double>(n);
      for (int k = 0; k < 3; ++k) {
        const double p = std::exp(logits[k] - largest) / total;
        const double g = (p - (k == label ? 1.0 : 0.0)) / static_cast<double>(n);
        grad_b[k] += g;
        for (int j = 0; j < 4; ++j) grad_w[k][j] += g * features[row * 4 + j];
      }
    }
    for (int k = 0; k < 3; ++k) {
      bias.grad[k] = static_cast<float>(grad_b[k]);
      for (int j = 0; j < 4; ++j) {
        const double w = weight.value[k * 4 + j];
        loss += l2 * w * w;
        weight.grad[k * 4 + j] = static_cast<float>(grad_w[k][j] + 2.0 * l2 * w);
      }
    }
    return loss;
  }
};

void check_parameters(const std::vector<float>& actual, const nlohmann::json& expected, double rtol,
                      double atol) {
  REQUIRE(actual.size() == expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    CAPTURE(i);
    CHECK(close(actual[i], expected[i].get<double>(), rtol, atol));
  }
}

}  // namespace

TEST_CASE("lbfgs: each step on least squares matches torch.optim.LBFGS") {
  for (const std::string name : {"least_squares", "least_squares_wolfe"}) {
    CAPTURE(name);
    const auto& test_case = find_case(name);
    LeastSquares problem(lbfgs_fixture().at("least_squares"));
    auto optimizer = build(test_case.at("options"), problem.parameters());
    CHECK(optimizer->needs_closure());
    for (std::size_t step = 0; step < test_case.at("steps").get<std::size_t>(); ++step) {
      const double loss = optimizer->step_with_closure([&] { return problem.loss_and_gradients(); });
      CHECK(close(loss, test_case["losses"][step].get<double>(), 1e-5, 1e-7));
      check_parameters(problem.flat_parameters(), test_case["params"][step], 1e-4, 1e-5);
    }
    const auto& lbfgs = dynamic_cast<const Lbfgs&>(*optimizer);
    CHECK(lbfgs.n_iter() == test_case.at("n_iter").get<Index>());
    CHECK(lbfgs.func_evals() == test_case.at("func_evals").get<Index>());
  }
}

TEST_CASE("lbfgs: reaches torch's optimum of the Rosenbrock function from (-1.5, 2)") {
  for (const std::string name : {"rosenbrock_wolfe", "rosenbrock_fixed_step"}) {
    CAPTURE(name);
    const auto& test_case = find_case(name);
    Parameter xy{"xy", Tensor(Shape{2}), Tensor(Shape{2})};
    xy.value[0] = -1.5f;
    xy.value[1] = 2.0f;
    auto optimizer = build(test_case.at("options"), {{"xy", &xy}});
    double first_loss = 0.0;
    for (Index step = 0; step < test_case.at("steps").get<Index>(); ++step) {
      const double loss = optimizer->step_with_closure([&] { return rosenbrock(xy); });
      if (step == 0) first_loss = loss;
    }
    CHECK(first_loss == doctest::Approx(12.5));
    const double final_loss = rosenbrock(xy);
    const auto& lbfgs = dynamic_cast<const Lbfgs&>(*optimizer);
    MESSAGE(name << ": (" << xy.value[0] << ", " << xy.value[1] << "), loss " << final_loss << " after "
                 << lbfgs.n_iter() << " iterations; torch: loss " << test_case.at("final_loss").get<double>()
                 << " after " << test_case.at("n_iter").get<int>());
    CHECK(final_loss < 1e-8);
    check_parameters({xy.value[0], xy.value[1]}, test_case.at("params").back(), 0.0, 2e-4);
    CHECK(std::abs(xy.value[0] - 1.0f) < 2e-4);
    CHECK(std::abs(xy.value[1] - 1.0f) < 2e-4);
  }
}

TEST_CASE("lbfgs: reaches torch's optimum of L2-regularised logistic regression on iris") {
  for (const std::string name : {"iris_wolfe", "iris_fixed_step"}) {
    CAPTURE(name);
    const auto& test_case = find_case(name);
    IrisObjective objective(lbfgs_fixture().at("iris"));
    auto optimizer = build(test_case.at("options"), {{"w", &objective.weight}, {"b", &objective.bias}});
    for (Index step = 0; step < test_case.at("steps").get<Index>(); ++step) {
      const double loss = optimizer->step_with_closure([&] { return objective(); });
      if (step == 0) CHECK(loss == doctest::Approx(std::log(3.0)));
    }
    const double final_loss = objective();
    MESSAGE(name << ": loss " << final_loss << ", torch " << test_case.at("final_loss").get<double>());
    CHECK(close(final_loss, test_case.at("final_loss").get<double>(), 1e-5, 0.0));
    std::vector<float> flat(objective.weight.value.values().begin(), objective.weight.value.values().end());
    flat.insert(flat.end(), objective.bias.value.values().begin(), objective.bias.value.values().end());
    // The optimum is flat in some directions: parameters agree to ~1e-2 where the loss agrees to 1e-6.
    check_parameters(flat, test_case.at("params").back(), 1e-2, 1e-2);
  }
}

TEST_CASE("lbfgs: state saved mid-way and loaded into a fresh optimizer continues exactly") {
  const nlohmann::json options = {{"max_iter", 5}, {"history_size", 3}, {"line_search", "strong_wolfe"}};
  Parameter a{"xy", Tensor(Shape{2}), Tensor(Shape{2})};
  a.value[0] = -1.5f;
  a.value[1] = 2.0f;
  auto original = build(options, {{"xy", &a}});
  for (int i = 0; i < 3; ++i) original->step_with_closure([&] { return rosenbrock(a); });

  Parameter b{"xy", a.value, Tensor(Shape{2})};
  auto resumed = build(options, {{"xy", &b}});
  auto saved = original->state_tensors();
  auto target = resumed->state_tensors();
  REQUIRE(saved.size() == 5);
  REQUIRE(target.size() == saved.size());
  for (std::size_t i = 0; i < saved.size(); ++i) *target[i].second = *saved[i].second;
  CHECK(saved[2].first == "lbfgs.old_dirs");
  CHECK(saved[2].second->shape() == Shape({3, 2}));
  resumed->set_state_scalars(original->state_scalars());
  for (int i = 0; i < 3; ++i) {
    original->step_with_closure([&] { return rosenbrock(a); });
    resumed->step_with_closure([&] { return rosenbrock(b); });
  }
  CHECK(a.value[0] == b.value[0]);
  CHECK(a.value[1] == b.value[1]);
  CHECK_THROWS_AS(resumed->set_state_scalars({{"n_iter", 1}}), DataError);
}

TEST_CASE("lbfgs: step() without a closure is an internal error; frozen parameters are left alone") {
  Parameter w{"w", Tensor(Shape{2}, 1.0f), Tensor(Shape{2})};
  Parameter frozen{"frozen", Tensor(Shape{2}, 3.0f), Tensor(Shape{2}, 1.0f)};
  frozen.trainable = false;
  auto optimizer = build(nlohmann::json::object(), {{"w", &w}, {"frozen", &frozen}});
  CHECK_THROWS_AS(optimizer->step(), InternalError);
  // f = sum (w - 2)^2
  optimizer->step_with_closure([&] {
    double loss = 0.0;
    for (Index i = 0; i < 2; ++i) {
      w.grad[i] = 2.0f * (w.value[i] - 2.0f);
      loss += (w.value[i] - 2.0) * (w.value[i] - 2.0);
    }
    return loss;
  });
  CHECK(w.value[0] == doctest::Approx(2.0));
  CHECK(frozen.value[0] == 3.0f);
  CHECK(optimizer->state_tensors()[0].second->shape() == Shape({2}));
}

TEST_CASE("cubic_interpolate: the minimiser of the interpolating cubic, clamped, or the middle") {
  // f(x) = (x - 2)^2: from (0, 4, -4) and (3, 1, 2) the cubic is the parabola itself.
  CHECK(cubic_interpolate(0, 4, -4, 3, 1, 2) == doctest::Approx(2.0));
  CHECK(cubic_interpolate(3, 1, 2, 0, 4, -4) == doctest::Approx(2.0));
  CHECK(cubic_interpolate(0, 4, -4, 3, 1, 2, std::pair{2.5, 4.0}) == doctest::Approx(2.5));
  // f(x) = x^3 - 3x (local minimum at 1) sampled at 0 and 2: d2^2 = 36 - (-3)(9) >= 0.
  CHECK(cubic_interpolate(0, 0, -3, 2, 2, 9) == doctest::Approx(1.0));
  // No real minimiser (d2^2 < 0): the middle of the bounds.
  CHECK(cubic_interpolate(0, 0, 1, 1, 2.0 / 3.0, 1) == doctest::Approx(0.5));
}

TEST_CASE("strong_wolfe: the accepted step satisfies the strong Wolfe conditions on a quadratic") {
  // f(x) = 0.5 * sum a_i x_i^2 from x0 = (1, 1, 1) along d = -grad.
  const std::vector<float> a = {1.0f, 10.0f, 100.0f}, x0 = {1.0f, 1.0f, 1.0f};
  std::vector<float> g0(3), d(3);
  double f0 = 0.0;
  for (int i = 0; i < 3; ++i) {
    g0[i] = a[i] * x0[i];
    d[i] = -g0[i];
    f0 += 0.5 * a[i] * x0[i] * x0[i];
  }
  Index evaluations = 0;
  const DirectionalEvaluate evaluate = [&](double t, std::span<float> grad) {
    ++evaluations;
    double f = 0.0;
    for (int i = 0; i < 3; ++i) {
      const double x = x0[i] + t * d[i];
      grad[i] = static_cast<float>(a[i] * x);
      f += 0.5 * a[i] * x * x;
    }
    return f;
  };
  LineSearchBuffers buffers;
  buffers.resize(3);
  std::vector<float> grad(3);
  const double gtd = dot(g0, d);
  const LineSearchResult result = strong_wolfe(evaluate, d, 1.0, f0, g0, gtd, grad, buffers);
  CHECK(result.evaluations == evaluations);
  CHECK(result.loss <= f0 + 1e-4 * result.t * gtd);    // sufficient decrease
  CHECK(std::abs(dot(grad, d)) <= -0.9 * gtd + 1e-9);  // curvature
  CHECK(result.t > 0.0);
}
