#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>

#include "core/errors.hpp"
#include "core/options.hpp"
#include "losses/binary_cross_entropy.hpp"
#include "losses/cross_entropy.hpp"
#include "losses/loss.hpp"
#include "losses/regression_losses.hpp"
#include "support/fixtures.hpp"
#include "support/gradient_check.hpp"
#include "support/messages.hpp"

using namespace dlrun;
using testing::contains;
using testing::message_of;

namespace {

std::unique_ptr<Loss> loss_named(const std::string& type,
                                 const std::vector<std::pair<std::string, std::string>>& entries = {}) {
  Node node = Node::map(Location{"run.yaml", 10, 7});
  int line = 11;
  for (const auto& [key, value] : entries) {
    node.set(key, Node::scalar(value, Location{"run.yaml", line, 14}), Location{"run.yaml", line, 3});
    ++line;
  }
  Options options(node, "loss");
  return make_loss(type, Location{"run.yaml", 10, 7}, options);
}

std::vector<std::int32_t> labels_from(const nlohmann::json& value) {
  return value.get<std::vector<std::int32_t>>();
}

// Central differences of the loss in double against the analytic gradient, for every element.
void check_loss_gradient(Loss& loss, Tensor predictions, const BatchTargets& targets, double step = 1e-2) {
  Tensor grad;
  loss.forward_backward(predictions, targets, &grad);
  REQUIRE(grad.shape() == predictions.shape());
  for (Index i = 0; i < predictions.size(); ++i) {
    CAPTURE(i);
    const float saved = predictions[i];
    const float up = saved + static_cast<float>(step);
    const float down = saved - static_cast<float>(step);
    predictions[i] = up;
    const double plus = loss.forward_backward(predictions, targets, nullptr);
    predictions[i] = down;
    const double minus = loss.forward_backward(predictions, targets, nullptr);
    predictions[i] = saved;
    const double numeric = (plus - minus) / (static_cast<double>(up) - static_cast<double>(down));
    CHECK(grad[i] == doctest::Approx(numeric).epsilon(2e-2).scale(1e-2));
  }
}

// Compares a fixture case: value and gradient, 1e-5 relative.
void check_against_fixture(Loss& loss, const nlohmann::json& c, const BatchTargets& targets) {
  CAPTURE(c.at("name").get<std::string>());
  const Tensor predictions = testing::tensor_from_json(c.at("predictions"));
  Tensor grad;
  const double value = loss.forward_backward(predictions, targets, &grad);
  CHECK(value == doctest::Approx(c.at("loss").get<double>()).epsilon(1e-5));
  const Tensor expected = testing::tensor_from_json(c.at("grad"));
  REQUIRE(grad.shape() == expected.shape());
  // Gradients are O(1/count): compare relative to the largest one rather than to 1.
  double largest = 0.0;
  for (const float g : expected.values()) largest = std::max(largest, static_cast<double>(std::abs(g)));
  CHECK(testing::max_abs_difference(grad, expected) <= 1e-5 * largest);
  // Without a gradient buffer the value is the same.
  CHECK(loss.forward_backward(predictions, targets, nullptr) == value);
}

}  // namespace

TEST_CASE("losses: cross_entropy matches PyTorch for (N, C), (N, T, C), label smoothing and huge logits") {
  const auto fixture = testing::load_fixture("fixtures/losses/cross_entropy.json");
  for (const auto& c : fixture.at("cases")) {
    const auto labels = labels_from(c.at("labels"));
    CrossEntropyLoss loss(c.at("label_smoothing").get<double>());
    check_against_fixture(loss, c, BatchTargets{labels, nullptr});
  }
}

TEST_CASE("losses: binary_cross_entropy matches PyTorch with labels and with values") {
  const auto fixture = testing::load_fixture("fixtures/losses/binary_cross_entropy.json");
  BinaryCrossEntropyLoss loss;
  for (const auto& c : fixture.at("cases")) {
    if (c.contains("labels")) {
      const auto labels = labels_from(c.at("labels"));
      check_against_fixture(loss, c, BatchTargets{labels, nullptr});
    } else {
      const Tensor targets = testing::tensor_from_json(c.at("targets"));
      check_against_fixture(loss, c, BatchTargets{{}, &targets});
    }
  }
}

TEST_CASE("losses: mse, mae and huber match PyTorch (huber also with delta 0.5)") {
  for (const char* type : {"mse", "mae", "huber"}) {
    const auto fixture = testing::load_fixture(std::string("fixtures/losses/") + type + ".json");
    for (const auto& c : fixture.at("cases")) {
      std::vector<std::pair<std::string, std::string>> options;
      for (const auto& [key, value] : c.at("options").items())
        options.emplace_back(key, std::to_string(value.get<double>()));
      const auto loss = loss_named(type, options);
      const Tensor targets = testing::tensor_from_json(c.at("targets"));
      check_against_fixture(*loss, c, BatchTargets{{}, &targets});
    }
  }
}

TEST_CASE("losses: every gradient matches finite differences") {
  Rng rng(17);
  SUBCASE("cross_entropy (N, C), (N, T, C), smoothing") {
    const std::vector<std::int32_t> labels{0, 3, 2, 1, 3, 0};
    for (const double smoothing : {0.0, 0.2}) {
      CrossEntropyLoss loss(smoothing);
      check_loss_gradient(loss, testing::random_normal({6, 4}, rng, 2.0f), BatchTargets{labels, nullptr});
      check_loss_gradient(loss, testing::random_normal({2, 3, 4}, rng, 2.0f), BatchTargets{labels, nullptr});
    }
  }
  SUBCASE("binary_cross_entropy") {
    BinaryCrossEntropyLoss loss;
    const std::vector<std::int32_t> labels{1, 0, 0, 1, 1};
    check_loss_gradient(loss, testing::random_normal({5, 1}, rng, 3.0f), BatchTargets{labels, nullptr});
    Tensor targets({3, 4});
    rng.fill_uniform(targets.values(), 0.0f, 1.0f);
    check_loss_gradient(loss, testing::random_normal({3, 4}, rng, 3.0f), BatchTargets{{}, &targets});
  }
  SUBCASE("mse, mae, huber") {
    const Tensor targets = testing::random_normal({4, 5}, rng);
    for (const auto& [type, delta] :
         {std::pair{"mse", ""}, std::pair{"mae", ""}, std::pair{"huber", "1"}, std::pair{"huber", "0.3"}}) {
      CAPTURE(type);
      CAPTURE(delta);
      const auto loss = std::string(delta).empty() ? loss_named(type) : loss_named(type, {{"delta", delta}});
      Tensor predictions = testing::random_normal({4, 5}, rng, 2.0f);
      // Keep away from the kinks (d = 0 for mae, |d| = delta for huber) so differences are smooth.
      for (Index i = 0; i < predictions.size(); ++i) {
        if (std::abs(predictions[i] - targets[i]) < 0.05f) predictions[i] += 0.1f;
        if (std::abs(std::abs(predictions[i] - targets[i]) - 0.3f) < 0.05f) predictions[i] += 0.1f;
        if (std::abs(std::abs(predictions[i] - targets[i]) - 1.0f) < 0.05f) predictions[i] += 0.1f;
      }
      check_loss_gradient(*loss, predictions, BatchTargets{{}, &targets}, 1e-3);
    }
  }
}

TEST_CASE(
    "losses: cross_entropy is finite for huge logits, exact for a hand-computed case, and "
    "thread-independent") {
  CrossEntropyLoss loss;
  Tensor logits({1, 2});
  logits[0] = 0.0f;
  logits[1] = std::log(3.0f);  // p = (1/4, 3/4)
  const std::vector<std::int32_t> label{0};
  Tensor grad;
  CHECK(loss.forward_backward(logits, BatchTargets{label, nullptr}, &grad) == doctest::Approx(std::log(4.0)));
  CHECK(grad[0] == doctest::Approx(0.25 - 1.0));
  CHECK(grad[1] == doctest::Approx(0.75));

  // Enough rows for the parallel path: the sum must equal a plain double loop.
  Rng rng(4);
  const Index rows = 20000, classes = 7;
  const Tensor big = testing::random_normal({rows, classes}, rng, 3.0f);
  std::vector<std::int32_t> labels(static_cast<std::size_t>(rows));
  for (auto& l : labels) l = static_cast<std::int32_t>(rng.below(classes));
  double expected = 0.0;
  for (Index r = 0; r < rows; ++r) {
    double max = -1e30, sum = 0.0;
    for (Index c = 0; c < classes; ++c) max = std::max(max, static_cast<double>(big[r * classes + c]));
    for (Index c = 0; c < classes; ++c) sum += std::exp(big[r * classes + c] - max);
    expected += max + std::log(sum) - big[r * classes + labels[static_cast<std::size_t>(r)]];
  }
  expected /= static_cast<double>(rows);
  const double value = loss.forward_backward(big, BatchTargets{labels, nullptr}, &grad);
  CHECK(value == doctest::Approx(expected).epsilon(1e-6));
  CHECK(loss.forward_backward(big, BatchTargets{labels, nullptr}, nullptr) == value);
}

TEST_CASE("losses: bad targets are DataErrors or ShapeErrors with a clear message") {
  CrossEntropyLoss ce;
  const Tensor logits({2, 10});
  const std::vector<std::int32_t> out_of_range{3, 12};
  CHECK_THROWS_AS(ce.forward_backward(logits, BatchTargets{out_of_range, nullptr}, nullptr), DataError);
  CHECK(message_of([&] {
          ce.forward_backward(logits, BatchTargets{out_of_range, nullptr}, nullptr);
        }) == "label 12 out of range for 10 outputs");
  const std::vector<std::int32_t> negative{-1, 0};
  CHECK_THROWS_AS(ce.forward_backward(logits, BatchTargets{negative, nullptr}, nullptr), DataError);
  const std::vector<std::int32_t> three{0, 1, 2};
  CHECK_THROWS_AS(ce.forward_backward(logits, BatchTargets{three, nullptr}, nullptr), ShapeError);
  CHECK_THROWS_AS(ce.forward_backward(Tensor({2}), BatchTargets{three, nullptr}, nullptr), ShapeError);
  CHECK_THROWS_AS(ce.forward_backward(logits, BatchTargets{{}, &logits}, nullptr), ShapeError);

  BinaryCrossEntropyLoss bce;
  const std::vector<std::int32_t> two{0, 2};
  CHECK_THROWS_AS(bce.forward_backward(Tensor({2, 1}), BatchTargets{two, nullptr}, nullptr), DataError);
  const std::vector<std::int32_t> binary{0, 1};
  CHECK_THROWS_AS(bce.forward_backward(Tensor({2, 3}), BatchTargets{binary, nullptr}, nullptr), ShapeError);
  const Tensor wrong_values({2, 2});
  CHECK_THROWS_AS(bce.forward_backward(Tensor({2, 3}), BatchTargets{{}, &wrong_values}, nullptr), ShapeError);

  RegressionLoss mse(RegressionKind::mse);
  CHECK_THROWS_AS(mse.forward_backward(Tensor({2, 1}), BatchTargets{binary, nullptr}, nullptr), DataError);
  CHECK_THROWS_AS(mse.forward_backward(Tensor({2, 3}), BatchTargets{{}, &wrong_values}, nullptr), ShapeError);
  // Same examples and element count, different shapes: accepted ((N, 1) against (N,)).
  const Tensor flat({2}, 1.0f);
  CHECK(mse.forward_backward(Tensor({2, 1}), BatchTargets{{}, &flat}, nullptr) == doctest::Approx(1.0));
}

TEST_CASE("losses: make_loss reads options, rejects unknown names and out-of-range values") {
  CHECK(loss_types() ==
        std::vector<std::string>{"binary_cross_entropy", "cross_entropy", "huber", "mae", "mse"});
  for (const std::string& type : loss_types()) {
    CAPTURE(type);
    const auto loss = loss_named(type);
    CHECK(loss->type() == type);
    CHECK(loss->takes_labels() == (type == "cross_entropy" || type == "binary_cross_entropy"));
  }
  CHECK(dynamic_cast<const CrossEntropyLoss&>(*loss_named("cross_entropy", {{"label_smoothing", "0.1"}}))
            .label_smoothing() == doctest::Approx(0.1));
  CHECK(dynamic_cast<const RegressionLoss&>(*loss_named("huber", {{"delta", "0.5"}})).delta() == 0.5);

  const std::string unknown = message_of([] { loss_named("cross_entropi"); });
  CHECK(contains(unknown, "run.yaml:10:7"));
  CHECK(contains(unknown, "unknown loss 'cross_entropi' (did you mean 'cross_entropy'?)"));
  CHECK_THROWS_AS(loss_named("hinge"), ConfigError);
  CHECK_THROWS_AS(loss_named("huber", {{"delta", "0"}}), ConfigError);
  CHECK_THROWS_AS(loss_named("cross_entropy", {{"label_smoothing", "1"}}), ConfigError);
  CHECK(contains(message_of([] {
                   loss_named("cross_entropy", {{"label_smoothing", "-0.1"}});
                 }),
                 "run.yaml:11:14"));
  CHECK(contains(message_of([] { loss_named("mse", {{"delta", "2"}}); }), "unknown option 'delta'"));
}
