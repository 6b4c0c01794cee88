// The recurrent layers' `init` option (layers/recurrent.hpp): pytorch by default, keras as Keras's
// defaults (glorot_uniform input weights, orthogonal recurrent weights, zero biases but LSTM's
// forget gate at 1).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "core/errors.hpp"
#include "layers/conv_test_support.hpp"
#include "layers/recurrent_test_support.hpp"
#include "support/messages.hpp"

using namespace dlrun;
using testing::contains;
using testing::message_of;

namespace {

const Parameter& named(Layer& layer, const std::string& name) {
  for (const Parameter& p : layer.parameters()) {
    if (p.name == name) return p;
  }
  FAIL("no parameter " << name);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("recurrent init: pytorch is the default; an unknown value is a config error with did-you-mean") {
  Rng a(5), b(5);
  auto implicit = testing::build_layer("lstm", {{"units", 3}}, {1, 4, 2}, a);
  auto explicit_ = testing::build_layer("lstm", {{"units", 3}, {"init", "pytorch"}}, {1, 4, 2}, b);
  for (std::size_t i = 0; i < implicit->parameters().size(); ++i) {
    const auto x = implicit->parameters()[i].value.values();
    const auto y = explicit_->parameters()[i].value.values();
    CHECK(std::equal(x.begin(), x.end(), y.begin(), y.end()));
  }
  Rng rng(1);
  const std::string message = message_of([&] {
    testing::build_layer("gru", {{"units", 3}, {"init", "kears"}}, {1, 4, 2}, rng);
  });
  CHECK(contains(message, "init"));
  CHECK(contains(message, "keras"));
  CHECK_THROWS_AS(testing::build_layer("gru", {{"units", 3}, {"init", "kears"}}, {1, 4, 2}, rng),
                  ConfigError);
}

TEST_CASE("recurrent init keras: weight_hh has orthonormal columns (Keras's (H, G*H) kernel, transposed)") {
  for (const std::string type : testing::kRecurrentTypes) {
    for (const bool bidirectional : {false, true}) {
      CAPTURE(type);
      CAPTURE(bidirectional);
      Rng rng(7);
      const Index h = 16;
      const Index width = testing::gate_count(type) * h;
      auto layer = testing::build_layer(
          type, {{"units", h}, {"init", "keras"}, {"bidirectional", bidirectional}}, {1, 4, 5}, rng);
      for (const std::string name : {"weight_hh_l0", "weight_hh_l0_reverse"}) {
        if (!bidirectional && name != "weight_hh_l0") continue;
        const Tensor& w = named(*layer, name).value;
        REQUIRE(w.shape() == Shape{width, h});
        double worst = 0.0;
        for (Index i = 0; i < h; ++i) {
          for (Index j = 0; j < h; ++j) {
            double dot = 0.0;  // (W^T W)[i, j]
            for (Index r = 0; r < width; ++r) dot += double(w.data()[r * h + i]) * w.data()[r * h + j];
            worst = std::max(worst, std::abs(dot - (i == j ? 1.0 : 0.0)));
          }
        }
        CHECK(worst < 1e-5);
      }
    }
  }
}

TEST_CASE(
    "recurrent init keras: weight_ih glorot_uniform over fans (F, G*H); biases 0, lstm's forget gate 1") {
  for (const std::string type : testing::kRecurrentTypes) {
    CAPTURE(type);
    Rng rng(9);
    const Index h = 32, f = 40;
    const Index width = testing::gate_count(type) * h;
    auto layer = testing::build_layer(type, {{"units", h}, {"init", "keras"}}, {1, 4, f}, rng);
    const float limit = std::sqrt(6.0f / static_cast<float>(f + width));
    const auto w = named(*layer, "weight_ih_l0").value.values();
    const auto [low, high] = std::minmax_element(w.begin(), w.end());
    CHECK(*low >= -limit);
    CHECK(*high < limit);
    CHECK(*high - *low > 1.9f * limit);  // spread over the whole interval

    const auto bias_ih = named(*layer, "bias_ih_l0").value.values();
    const auto bias_hh = named(*layer, "bias_hh_l0").value.values();
    CHECK(std::all_of(bias_hh.begin(), bias_hh.end(), [](float v) { return v == 0.0f; }));
    for (Index j = 0; j < width; ++j) {
      // PyTorch's LSTM gate order is i, f, g, o: the f block is [H, 2H).
      const bool forget = type == "lstm" && j >= h && j < 2 * h;
      CHECK(bias_ih[static_cast<std::size_t>(j)] == (forget ? 1.0f : 0.0f));
    }
  }
}

TEST_CASE("recurrent init keras: the same seed gives the same weights, another seed others") {
  Rng a(11), b(11), c(12);
  auto first = testing::build_layer("lstm", {{"units", 8}, {"init", "keras"}}, {1, 4, 3}, a);
  auto same = testing::build_layer("lstm", {{"units", 8}, {"init", "keras"}}, {1, 4, 3}, b);
  auto other = testing::build_layer("lstm", {{"units", 8}, {"init", "keras"}}, {1, 4, 3}, c);
  for (const std::string name : {"weight_ih_l0", "weight_hh_l0"}) {
    CAPTURE(name);
    const auto x = named(*first, name).value.values();
    const auto y = named(*same, name).value.values();
    const auto z = named(*other, name).value.values();
    CHECK(std::equal(x.begin(), x.end(), y.begin(), y.end()));
    CHECK_FALSE(std::equal(x.begin(), x.end(), z.begin(), z.end()));
  }
}
