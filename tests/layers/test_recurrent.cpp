// What simple_rnn, lstm and gru share (layers/recurrent.hpp): shapes, options and their errors,
// PyTorch's parameter names and init, the batch split across threads, and the skipped input gradient.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "core/errors.hpp"
#include "core/threads.hpp"
#include "layers/recurrent_test_support.hpp"
#include "model/model_test_support.hpp"
#include "support/messages.hpp"

using namespace dlrun;
using testing::contains;
using testing::message_of;

TEST_CASE("recurrent: output shapes (N, T, D*H) with return_sequences, else (N, D*H)") {
  for (const std::string type : testing::kRecurrentTypes) {
    CAPTURE(type);
    Rng rng(1);
    CHECK(testing::build_layer(type, {{"units", 5}}, {1, 7, 3}, rng)->output_shape({4, 7, 3}) == Shape{4, 5});
    CHECK(testing::build_layer(type, {{"units", 5}, {"return_sequences", true}}, {1, 7, 3}, rng)
              ->output_shape({4, 9, 3}) == Shape{4, 9, 5});
    CHECK(testing::build_layer(type, {{"units", 5}, {"bidirectional", true}}, {1, 7, 3}, rng)
              ->output_shape({2, 7, 3}) == Shape{2, 10});
    CHECK(testing::build_layer(type, {{"units", 5}, {"bidirectional", true}, {"return_sequences", true}},
                               {1, 7, 3}, rng)
              ->output_shape({2, 6, 3}) == Shape{2, 6, 10});
  }
}

TEST_CASE("recurrent: shape and option errors name the layer and the key") {
  Rng rng(1);
  auto lstm = testing::build_layer("lstm", {{"units", 4}}, {1, 6, 3}, rng, "enc");
  const std::string features = message_of([&] { (void)lstm->output_shape({2, 6, 5}); });
  CHECK(contains(features, "layer 'enc' (lstm)"));
  CHECK(contains(features, "expects 3 features per step"));
  CHECK_THROWS_AS((void)lstm->output_shape({2, 18}), ShapeError);
  CHECK_THROWS_AS((void)lstm->output_shape({2, 0, 3}), ShapeError);

  const std::string image = message_of([&] {
    testing::build_layer("gru", {{"units", 4}}, {1, 1, 28, 28}, rng, "g");
  });
  CHECK(contains(image, "layer 'g' (gru): expects sequences (N, T, F)"));
  CHECK(contains(image, "as_sequence: true"));
  CHECK_THROWS_AS(testing::build_layer("gru", {{"units", 4}}, {1, 1, 28, 28}, rng), ShapeError);

  CHECK_THROWS_AS(testing::build_layer("lstm", {{"units", 0}}, {1, 6, 3}, rng), ConfigError);
  CHECK(contains(message_of([&] {
                   testing::build_layer("lstm", nlohmann::json::object(), {1, 6, 3}, rng);
                 }),
                 "units: is required"));
  CHECK(contains(message_of([&] {
                   testing::build_layer("lstm", {{"units", 2}, {"return_sequence", true}}, {1, 6, 3}, rng);
                 }),
                 "did you mean 'return_sequences'?"));
  CHECK_THROWS_AS(
      testing::build_layer("simple_rnn", {{"units", 2}, {"bidirectional", "both"}}, {1, 6, 3}, rng),
      ConfigError);
}

TEST_CASE("recurrent: PyTorch's parameter names, shapes and gate counts; biases not regularised") {
  for (const std::string type : testing::kRecurrentTypes) {
    CAPTURE(type);
    const Index g = testing::gate_count(type);
    Rng rng(2);
    auto layer = testing::build_layer(type, {{"units", 6}, {"bidirectional", true}}, {1, 4, 3}, rng);
    const std::vector<std::string> names{"weight_ih_l0",       "weight_hh_l0",         "bias_ih_l0",
                                         "bias_hh_l0",         "weight_ih_l0_reverse", "weight_hh_l0_reverse",
                                         "bias_ih_l0_reverse", "bias_hh_l0_reverse"};
    REQUIRE(layer->parameters().size() == names.size());
    for (std::size_t i = 0; i < names.size(); ++i) {
      const Parameter& p = layer->parameters()[i];
      CHECK(p.name == names[i]);
      const bool weight = p.name.starts_with("weight");
      CHECK(p.regularized == weight);
      const Shape expected = p.name.starts_with("weight_ih")   ? Shape{g * 6, 3}
                             : p.name.starts_with("weight_hh") ? Shape{g * 6, 6}
                                                               : Shape{g * 6};
      CHECK(p.value.shape() == expected);
      CHECK(p.grad.shape() == expected);
    }
    auto no_bias = testing::build_layer(type, {{"units", 6}, {"bias", false}}, {1, 4, 3}, rng);
    REQUIRE(no_bias->parameters().size() == 2);
    CHECK(no_bias->parameters()[1].name == "weight_hh_l0");
  }
}

TEST_CASE("recurrent: PyTorch's init, U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias") {
  Rng rng(3);
  auto lstm = testing::build_layer("lstm", {{"units", 64}}, {1, 4, 100}, rng);
  const float bound = 1.0f / std::sqrt(64.0f);
  for (const Parameter& p : lstm->parameters()) {
    CAPTURE(p.name);
    const auto values = p.value.values();
    const auto [low, high] = std::minmax_element(values.begin(), values.end());
    CHECK(*low >= -bound);
    CHECK(*high < bound);
    CHECK(*high - *low > 1.8f * bound);  // spread over the whole interval
  }
}

TEST_CASE("recurrent: a batch split across threads equals each sample run alone") {
  set_thread_count(2);
  for (const std::string type : testing::kRecurrentTypes) {
    for (const bool bidirectional : {false, true}) {
      CAPTURE(type);
      CAPTURE(bidirectional);
      const nlohmann::json options{
          {"units", 5}, {"bidirectional", bidirectional}, {"return_sequences", true}};
      Rng init(4);
      auto batched = testing::build_layer(type, options, {1, 6, 3}, init);
      Rng same(4);
      auto single = testing::build_layer(type, options, {1, 6, 3}, same);
      Rng rng(5);
      const Tensor input = testing::random_normal({16, 6, 3}, rng);
      const Tensor grad_output = testing::random_normal(batched->output_shape(input.shape()), rng);
      Tensor output, grad_input;
      for (Parameter& p : batched->parameters()) p.grad.zero();
      batched->forward(input, output, ForwardContext{});
      batched->backward(input, output, grad_output, grad_input);

      for (Parameter& p : single->parameters()) p.grad.zero();
      const Index sample_size = 6 * 3, out_size = output.size() / 16;
      double worst_output = 0.0, worst_grad_input = 0.0;
      for (Index n = 0; n < 16; ++n) {
        Tensor x({1, 6, 3}), g(single->output_shape({1, 6, 3})), y, gx;
        std::copy_n(input.data() + n * sample_size, sample_size, x.data());
        std::copy_n(grad_output.data() + n * out_size, out_size, g.data());
        single->forward(x, y, ForwardContext{});
        single->backward(x, y, g, gx);
        for (Index i = 0; i < out_size; ++i)
          worst_output =
              std::max(worst_output, static_cast<double>(std::abs(y[i] - output[n * out_size + i])));
        for (Index i = 0; i < sample_size; ++i)
          worst_grad_input = std::max(worst_grad_input,
                                      static_cast<double>(std::abs(gx[i] - grad_input[n * sample_size + i])));
      }
      CHECK(worst_output < 1e-5);
      CHECK(worst_grad_input < 1e-5);
      for (std::size_t i = 0; i < batched->parameters().size(); ++i) {
        CAPTURE(batched->parameters()[i].name);
        CHECK(testing::max_relative_difference(batched->parameters()[i].grad.values(),
                                               single->parameters()[i].grad.values()) < 1e-4);
      }
    }
  }
  set_thread_count(0);
}

TEST_CASE("recurrent: without an input gradient, parameter gradients are unchanged") {
  for (const std::string type : testing::kRecurrentTypes) {
    CAPTURE(type);
    Rng init(6), same(6);
    auto full = testing::build_layer(type, {{"units", 4}}, {1, 5, 3}, init);
    auto skip = testing::build_layer(type, {{"units", 4}}, {1, 5, 3}, same);
    skip->set_input_grad_needed(false);
    Rng rng(7);
    const Tensor input = testing::random_normal({3, 5, 3}, rng);
    const Tensor grad_output = testing::random_normal({3, 4}, rng);
    for (Layer* layer : {full.get(), skip.get()}) {
      for (Parameter& p : layer->parameters()) p.grad.zero();
      Tensor output, grad_input;
      layer->forward(input, output, ForwardContext{});
      layer->backward(input, output, grad_output, grad_input);
      CHECK(grad_input.shape() == input.shape());
    }
    for (std::size_t i = 0; i < full->parameters().size(); ++i) {
      CHECK(testing::max_abs_difference(full->parameters()[i].grad, skip->parameters()[i].grad) == 0.0);
    }
  }
}

TEST_CASE("recurrent: in a model, names are <layer>.weight_ih_l0 and FLOPs count both projections") {
  Model model = testing::build_model(
      "    - {type: lstm, name: enc, units: 64, return_sequences: true}\n"
      "    - {type: gru, units: 8, bidirectional: true}\n"
      "    - {type: dense, units: 10}\n",
      {28, 28});
  CHECK(model.output_shape() == Shape{10});
  const auto parameters = model.parameters();
  REQUIRE(parameters.size() == 4 + 8 + 2);
  CHECK(parameters[0].name == "enc.weight_ih_l0");
  CHECK(parameters[4].name == "gru_1.weight_ih_l0");
  CHECK(parameters[11].name == "gru_1.bias_hh_l0_reverse");
  const auto summary = model.summary();
  CHECK(summary[0].parameters == 4 * 64 * (28 + 64) + 2 * 4 * 64);
  // 28 steps of (2 * 256 * (28 + 64) + 4 * 256)
  CHECK(summary[0].flops == doctest::Approx(28.0 * (2.0 * 256 * 92 + 4.0 * 256)));
  CHECK(summary[1].flops == doctest::Approx(2.0 * 28.0 * (2.0 * 24 * 72 + 4.0 * 24)));
}

TEST_CASE("recurrent: one step and one sample, both directions, pass the gradient check") {
  for (const std::string type : testing::kRecurrentTypes) {
    for (const Shape& shape : {Shape{1, 1, 3}, Shape{1, 4, 3}, Shape{3, 1, 2}}) {
      CAPTURE(type);
      CAPTURE(shape.to_string());
      Rng rng(8);
      auto layer = testing::build_layer(type, {{"units", 3}, {"bidirectional", true}}, shape, rng);
      const auto report = testing::check_layer_gradients(*layer, shape);
      CHECK_MESSAGE(report.passed, report.summary());
    }
  }
}
