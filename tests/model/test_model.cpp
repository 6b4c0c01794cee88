// Model: building from layer configs (shorthand activations, regularisation, option and shape
// errors), parameter names, the summary's shapes, counts and FLOPs, and forward/backward of whole
// models against central differences.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "config/config_test_util.hpp"
#include "model/model_test_support.hpp"
#include "support/gradient_check.hpp"
#include "support/messages.hpp"

using namespace dlrun;
using dlrun::testing::config_error;
using testing::contains;

namespace {

Model build(const std::string& layers_yaml, const Shape& input_shape, std::uint64_t seed = 11) {
  return testing::build_model(layers_yaml, input_shape, seed);
}

std::string build_error(const std::string& layers_yaml, const Shape& input_shape) {
  return config_error([&] { build(layers_yaml, input_shape); });
}

std::vector<std::string> layer_names(const Model& model) {
  std::vector<std::string> names;
  for (Index i = 0; i < model.size(); ++i) names.push_back(model.layer(i).name);
  return names;
}

std::vector<std::string> parameter_names(Model& model) {
  std::vector<std::string> names;
  for (const ParameterRef& ref : model.parameters()) names.push_back(ref.name);
  return names;
}

// <model(x)[:depth], r> in double, the objective whose gradient backward(x, r) computes.
double probe_objective(Model& model, const Tensor& input, const Tensor& probe, Mode mode, Index depth) {
  const Tensor& output = model.forward(input, ForwardContext{mode, nullptr}, depth);
  double sum = 0.0;
  for (Index i = 0; i < output.size(); ++i) sum += static_cast<double>(output[i]) * probe[i];
  return sum;
}

struct ModelGradientReport {
  double worst_error = 0.0;  // |analytic - numeric| / max(|analytic|, |numeric|, 1), kinks excluded
  std::string worst_place;
  double grad_abs_sum = 0.0;  // guards against a check that passes because everything is zero
  Index coordinates = 0;
  Index kinks = 0;
};

double relative_gap(double a, double b) {
  return std::abs(a - b) / std::max({std::abs(a), std::abs(b), 1.0});
}

// Every coordinate of every trainable parameter: Model::backward's gradient of <model(x), r>
// against central differences of the same objective. A max-pool window whose winner changes
// within the step (a kink) spoils the central difference; the analytic gradient then matches the
// one-sided difference on the kink-free side. Such coordinates are counted as kinks, not errors.
ModelGradientReport check_model_gradients(Model& model, const Shape& input_shape, Mode mode, Index depth = -1,
                                          std::uint64_t seed = 5) {
  Rng rng(seed);
  const Tensor input = testing::random_normal(input_shape, rng);
  const Tensor probe =
      testing::random_normal(model.forward(input, ForwardContext{mode, nullptr}, depth).shape(), rng);
  model.forward(input, ForwardContext{mode, nullptr}, depth);
  model.zero_grads();
  model.backward(input, probe, depth);

  ModelGradientReport report;
  constexpr double kStep = 1e-3;
  constexpr double kKinkGap = 2e-3;
  for (const ParameterRef& ref : model.trainable_parameters()) {
    const Tensor analytic = ref.parameter->grad;  // a copy: the probes below run forward only
    Tensor& value = ref.parameter->value;
    for (Index i = 0; i < value.size(); ++i) {
      const float saved = value[i];
      value[i] = static_cast<float>(saved + kStep);
      const double plus = probe_objective(model, input, probe, mode, depth);
      value[i] = static_cast<float>(saved - kStep);
      const double minus = probe_objective(model, input, probe, mode, depth);
      value[i] = saved;
      const double base = probe_objective(model, input, probe, mode, depth);
      const double numeric = (plus - minus) / (2 * kStep);
      const double a = analytic[i];
      const double error = relative_gap(a, numeric);
      report.grad_abs_sum += std::abs(a);
      ++report.coordinates;
      const double one_sided =
          std::min(relative_gap(a, (plus - base) / kStep), relative_gap(a, (base - minus) / kStep));
      if (error > kKinkGap && one_sided < kKinkGap) {
        ++report.kinks;
        continue;
      }
      if (error > report.worst_error) {
        report.worst_error = error;
        report.worst_place = ref.name + "[" + std::to_string(i) + "]: analytic " + std::to_string(a) +
                             ", numeric " + std::to_string(numeric);
      }
    }
  }
  return report;
}

}  // namespace

TEST_CASE("model: layers in order, default names, `activation:` adds '<name>_<function>'") {
  Model model = build(
      "    - {type: dense, name: fc1, units: 5, activation: relu}\n"
      "    - {type: dropout, rate: 0.5}\n"
      "    - {type: dense, units: 3, activation: softmax}\n",
      Shape{4});
  CHECK(layer_names(model) ==
        std::vector<std::string>{"fc1", "fc1_relu", "dropout_1", "dense_2", "dense_2_softmax"});
  CHECK(model.layer(0).type == "dense");
  CHECK(model.layer(0).function.empty());
  CHECK(model.layer(1).type == "activation");
  CHECK(model.layer(1).function == "relu");
  CHECK(model.layer(1).layer->kind() == "activation");
  CHECK(model.layer(4).function == "softmax");
  CHECK(model.input_shape() == Shape{4});
  CHECK(model.output_shape() == Shape{3});
  CHECK(model.layer(0).output_shape == Shape{1, 5});  // with a batch axis of 1
  CHECK(model.final_activation() == "softmax");

  // The shorthand passes the activation's own options through (leaky_relu's negative_slope).
  Model leaky = build("    - {type: dense, name: h, units: 2, activation: leaky_relu, negative_slope: 0.2}\n",
                      Shape{3});
  REQUIRE(leaky.size() == 2);
  CHECK(leaky.layer(1).name == "h_leaky_relu");
  Tensor input(Shape{1, 3});
  input[0] = 1.0f;
  const Tensor& out = leaky.forward(input, ForwardContext{});
  const Tensor& pre = leaky.output(0);
  for (Index i = 0; i < out.size(); ++i)
    CHECK(out[i] == doctest::Approx(pre[i] > 0 ? pre[i] : 0.2f * pre[i]));
}

TEST_CASE("model: final_activation names the last layer's function, or nothing") {
  CHECK(build("    - {type: dense, units: 3}\n", Shape{4}).final_activation().empty());
  CHECK(build("    - {type: dense, units: 1, activation: sigmoid}\n", Shape{4}).final_activation() ==
        "sigmoid");
  CHECK(build("    - {type: dense, units: 3}\n    - {type: activation, function: softmax}\n", Shape{4})
            .final_activation() == "softmax");
  CHECK(build("    - {type: dense, units: 3}\n    - {type: activation, activation: softmax}\n", Shape{4})
            .final_activation() == "softmax");
  // An activation that is not last does not count.
  CHECK(build("    - {type: dense, units: 3, activation: tanh}\n    - {type: dropout, rate: 0.1}\n", Shape{4})
            .final_activation()
            .empty());
}

TEST_CASE("model: l1, l2 and max_norm are read into the layer's regularisation") {
  Model model = build(
      "    - {type: dense, name: fc1, units: 5, activation: relu, l1: 0.001, l2: 0.01, max_norm: 3}\n"
      "    - {type: dense, name: out, units: 2, l2: 0.5}\n",
      Shape{4});
  REQUIRE(model.size() == 3);
  CHECK(model.layer(0).regularization.l1 == 0.001);
  CHECK(model.layer(0).regularization.l2 == 0.01);
  CHECK(model.layer(0).regularization.max_norm == 3.0);
  // The shorthand activation has no weights to regularise.
  CHECK(model.layer(1).regularization.l1 == 0.0);
  CHECK(model.layer(1).regularization.l2 == 0.0);
  CHECK(model.layer(1).regularization.max_norm == 0.0);
  CHECK(model.layer(2).regularization.l1 == 0.0);
  CHECK(model.layer(2).regularization.l2 == 0.5);
  CHECK(model.layer(2).regularization.max_norm == 0.0);

  const std::string negative = build_error("    - {type: dense, name: fc1, units: 5, l2: -0.1}\n", Shape{4});
  CHECK(contains(negative, "model.yaml:5:"));
  CHECK(contains(negative, "layer 'fc1' (dense)"));
  CHECK(contains(negative, "l2"));
  CHECK(contains(build_error("    - {type: dense, units: 5, max_norm: -1}\n", Shape{4}), "max_norm"));

  // Conv weights take them too.
  Model conv = build("    - {type: conv2d, filters: 2, kernel: 3, l2: 0.001}\n", Shape{1, 5, 5});
  CHECK(conv.layer(0).regularization.l2 == 0.001);
}

TEST_CASE("model: l1, l2 and max_norm on a layer without weights are errors, not silent no-ops") {
  // "    - {type: dense, units: 3}\n    - {type: dropout, rate: 0.5, l2: 0.01}": the value of `l2` is at
  // 6:38.
  const std::string dropout =
      build_error("    - {type: dense, units: 3}\n    - {type: dropout, rate: 0.5, l2: 0.01}\n", Shape{4});
  INFO(dropout);
  CHECK(contains(dropout, "model.yaml:6:38: layer 'dropout_1' (dropout): l2: has no effect"));
  CHECK(contains(build_error("    - {type: flatten, l1: 0.1}\n", Shape{1, 2, 2}), "l1: has no effect"));
  // Batch norm's weight is a norm: l1/l2 do not apply to it.
  CHECK(contains(build_error("    - {type: batchnorm, max_norm: 2}\n", Shape{3}), "max_norm: has no effect"));
  // A dense layer without bias still has its weight.
  CHECK_NOTHROW(build("    - {type: dense, units: 3, bias: false, l1: 0.1}\n", Shape{4}));
}

TEST_CASE("model: unknown options and activations are ConfigErrors at line:col with a suggestion") {
  // "    - {type: dense, units: 3, bais: false}": `bais` starts in column 31.
  const std::string typo = build_error("    - {type: dense, units: 3, bais: false}\n", Shape{4});
  CHECK(typo == "model.yaml:5:31: layer 'dense_1' (dense): unknown option 'bais' (did you mean 'bias'?)");

  // A regularisation key misspelt on the second layer (line 6).
  const std::string l2 = build_error(
      "    - {type: dense, units: 3}\n    - {type: dense, name: out, units: 2, l22: 1}\n", Shape{4});
  CHECK(contains(l2, "model.yaml:6:"));
  CHECK(contains(l2, "layer 'out' (dense): unknown option 'l22'"));
  CHECK(contains(l2, "(did you mean 'l2'?)"));

  const std::string activation = build_error("    - {type: dense, units: 3, activation: softmx}\n", Shape{4});
  CHECK(contains(activation, "model.yaml:5:"));
  CHECK(contains(activation, "unknown activation 'softmx'"));
  CHECK(contains(activation, "(did you mean 'softmax'?)"));

  // An option of another activation than the one chosen is not silently accepted.
  CHECK(contains(
      build_error("    - {type: dense, units: 3, activation: relu, negative_slope: 0.2}\n", Shape{4}),
      "unknown option 'negative_slope'"));

  const std::string type = build_error("    - {type: dense2d, units: 3}\n", Shape{4});
  CHECK(type == "model.yaml:5:14: unknown layer type 'dense2d' (did you mean 'dense'?)");
}

TEST_CASE("model: shape errors name the layer and its line") {
  // Each names its layer once ("layer 'c1' (conv2d): layer 'c1' ..." repeated it) and starts with
  // the layer's line.
  const auto count = [](const std::string& text, const std::string& part) {
    int found = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) ++found;
    return found;
  };
  const std::string pool =
      build_error("    - {type: dense, units: 3}\n    - {type: maxpool2d, pool: 2}\n", Shape{4});
  CHECK(pool.starts_with("model.yaml:6:"));
  CHECK(contains(pool, "layer 'maxpool2d_1' (maxpool2d)"));
  CHECK(count(pool, "layer 'maxpool2d_1'") == 1);

  const std::string conv =
      build_error("    - {type: conv2d, name: c1, filters: 2, kernel: 5}\n", Shape{1, 3, 3});
  CHECK(conv.starts_with("model.yaml:5:"));
  CHECK(contains(conv, "layer 'c1' (conv2d)"));
  CHECK(count(conv, "layer 'c1'") == 1);

  // dense needs (N, F) or (N, T, F): an image must be flattened first.
  const std::string dense = build_error("    - {type: dense, name: fc1, units: 3}\n", Shape{1, 4, 4});
  CHECK(dense.starts_with("model.yaml:5:"));
  CHECK(contains(dense, "layer 'fc1' (dense)"));
  CHECK(count(dense, "layer 'fc1'") == 1);

  // A conv2d after a dense layer (an input without H and W), on the config's second layer line.
  const std::string after_dense = build_error(
      "    - {type: dense, name: fc1, units: 2}\n    - {type: conv2d, name: conv2, filters: 2, kernel: 1}\n",
      Shape{4});
  CHECK(after_dense.starts_with("model.yaml:6:"));
  CHECK(count(after_dense, "layer 'conv2'") == 1);
}

TEST_CASE("model: parameters are named '<layer>.<param>' in layer order, buffers are not trainable") {
  Model model = build(
      "    - {type: conv2d, name: conv1, filters: 2, kernel: 3, activation: relu}\n"
      "    - {type: batchnorm, name: bn1}\n"
      "    - {type: flatten}\n"
      "    - {type: dense, name: fc1, units: 4, bias: false}\n"
      "    - {type: dense, units: 3, activation: softmax}\n",
      Shape{1, 5, 5});
  CHECK(parameter_names(model) == std::vector<std::string>{"conv1.weight", "conv1.bias", "bn1.weight",
                                                           "bn1.bias", "bn1.running_mean", "bn1.running_var",
                                                           "fc1.weight", "dense_2.weight", "dense_2.bias"});
  std::vector<std::string> trainable;
  for (const ParameterRef& ref : model.trainable_parameters()) trainable.push_back(ref.name);
  CHECK(trainable == std::vector<std::string>{"conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias",
                                              "fc1.weight", "dense_2.weight", "dense_2.bias"});
  // PyTorch layouts: dense weight [out, in], conv weight [out, in, kh, kw].
  const auto parameters = model.parameters();
  CHECK(parameters[0].parameter->value.shape() == Shape{2, 1, 3, 3});
  CHECK(parameters[6].parameter->value.shape() == Shape{4, 18});
  CHECK(parameters[7].parameter->value.shape() == Shape{3, 4});

  // zero_grads clears trainable gradients.
  for (const ParameterRef& ref : model.trainable_parameters()) ref.parameter->grad.fill(3.0f);
  model.zero_grads();
  for (const ParameterRef& ref : model.trainable_parameters()) {
    for (const float g : ref.parameter->grad.values()) REQUIRE(g == 0.0f);
  }
}

TEST_CASE("model: the same init stream gives the same weights, another seed does not") {
  const std::string layers = "    - {type: dense, name: fc1, units: 6}\n";
  Model a = build(layers, Shape{5}, 3);
  Model b = build(layers, Shape{5}, 3);
  Model c = build(layers, Shape{5}, 4);
  const Tensor& wa = a.parameters()[0].parameter->value;
  CHECK(testing::max_abs_difference(wa, b.parameters()[0].parameter->value) == 0.0);
  CHECK(testing::max_abs_difference(wa, c.parameters()[0].parameter->value) > 0.0);
}

TEST_CASE("model: summary rows give output shapes, parameter counts and FLOPs per example") {
  Model model = build(
      "    - {type: conv2d, name: conv1, filters: 4, kernel: 3}\n"
      "    - {type: maxpool2d, pool: 2}\n"
      "    - {type: flatten}\n"
      "    - {type: dense, name: fc1, units: 5, activation: relu}\n",
      Shape{1, 8, 8});
  const std::vector<LayerSummary> rows = model.summary();
  REQUIRE(rows.size() == 5);
  CHECK(rows[0].name == "conv1");
  CHECK(rows[0].type == "conv2d");
  CHECK(rows[0].output_shape == Shape{4, 6, 6});
  CHECK(rows[0].parameters == 4 * 1 * 3 * 3 + 4);
  // Each of the 4*6*6 outputs is 1*3*3 multiply-adds (2 FLOPs each): conv2d counts no bias adds.
  CHECK(rows[0].flops == doctest::Approx(2.0 * 4 * 6 * 6 * 9));
  CHECK(rows[1].name == "maxpool2d_1");
  CHECK(rows[1].output_shape == Shape{4, 3, 3});
  CHECK(rows[1].parameters == 0);
  CHECK(rows[2].output_shape == Shape{36});
  CHECK(rows[3].name == "fc1");
  CHECK(rows[3].type == "dense");
  CHECK(rows[3].output_shape == Shape{5});
  CHECK(rows[3].parameters == 36 * 5 + 5);
  // 36*5 multiply-adds plus the 5 bias adds.
  CHECK(rows[3].flops == doctest::Approx(2.0 * 36 * 5 + 5));
  CHECK(rows[4].name == "fc1_relu");
  CHECK(rows[4].type == "activation(relu)");
  CHECK(rows[4].output_shape == Shape{5});
  CHECK(rows[4].parameters == 0);

  // Buffers count as parameters (PyTorch's state_dict does too): batchnorm over 3 channels has 12.
  Model bn = build("    - {type: batchnorm, name: bn}\n", Shape{3, 4, 4});
  CHECK(bn.summary()[0].parameters == 12);
  // A dense layer over sequences runs once per step.
  Model sequence = build("    - {type: dense, units: 2, bias: false}\n", Shape{7, 3});
  CHECK(sequence.summary()[0].output_shape == Shape{7, 2});
  CHECK(sequence.summary()[0].flops == doctest::Approx(7 * 2.0 * 3 * 2));
}

TEST_CASE("model: the first layer does not compute its input gradient, the others do") {
  Model model =
      build("    - {type: dense, units: 3, activation: tanh}\n    - {type: dense, units: 2}\n", Shape{4});
  REQUIRE(model.size() == 3);
  CHECK_FALSE(model.layer(0).layer->input_grad_needed());
  CHECK(model.layer(1).layer->input_grad_needed());
  CHECK(model.layer(2).layer->input_grad_needed());

  // Layers without trainable parameters in front (flatten, dropout on the data) pass no gradient on
  // to the data, and the first trainable layer computes none for them.
  Model mlp = build(
      "    - {type: flatten}\n    - {type: dropout, rate: 0.1}\n    - {type: dense, units: 3, activation: "
      "relu}\n"
      "    - {type: dense, units: 2}\n",
      Shape{2, 2});
  REQUIRE(mlp.size() == 5);
  for (Index i = 0; i < 3; ++i) CHECK_FALSE(mlp.layer(i).layer->input_grad_needed());
  CHECK(mlp.layer(3).layer->input_grad_needed());
  CHECK(mlp.layer(4).layer->input_grad_needed());
}

TEST_CASE("model: conv2d runs a following maxpool2d and flatten itself; the model skips them") {
  Model model = build(
      "    - {type: conv2d, name: conv1, filters: 2, kernel: 3, activation: relu}\n"
      "    - {type: maxpool2d, name: pool1, pool: 2}\n"
      "    - {type: flatten, name: flat}\n"
      "    - {type: dense, name: out, units: 3}\n",
      Shape{1, 6, 6});
  REQUIRE(model.size() == 4);
  CHECK_FALSE(model.layer(0).fused_into_previous);
  CHECK(model.layer(1).fused_into_previous);
  CHECK(model.layer(2).fused_into_previous);
  CHECK_FALSE(model.layer(3).fused_into_previous);
  // The summary still shows every layer with its own output shape.
  const std::vector<LayerSummary> rows = model.summary();
  CHECK(rows[0].output_shape == Shape{2, 4, 4});
  CHECK(rows[1].output_shape == Shape{2, 2, 2});
  CHECK(rows[2].output_shape == Shape{8});
  Rng rng(3);
  const Tensor input = testing::random_normal(Shape{2, 1, 6, 6}, rng);
  model.forward(input, ForwardContext{});
  CHECK(model.output(2).shape() == Shape{2, 8});  // the run's result sits in its last layer's slot
  CHECK(model.output(3).shape() == Shape{2, 3});
  const ModelGradientReport report = check_model_gradients(model, Shape{2, 1, 6, 6}, Mode::eval);
  INFO(report.worst_place);
  CHECK(report.worst_error < 2e-3);

  // A final layer is never fused: evaluation may stop before it.
  Model ends_in_pool = build(
      "    - {type: conv2d, filters: 2, kernel: 3}\n    - {type: maxpool2d, pool: 2}\n", Shape{1, 6, 6});
  CHECK_FALSE(ends_in_pool.layer(1).fused_into_previous);
}

TEST_CASE("model: forward/backward of a small MLP matches central differences for every parameter") {
  Model model = build(
      "    - {type: dense, name: fc1, units: 5, activation: tanh}\n"
      "    - {type: dense, name: fc2, units: 4, activation: sigmoid}\n"
      "    - {type: dense, name: out, units: 3, activation: softmax}\n",
      Shape{6});
  const ModelGradientReport full = check_model_gradients(model, Shape{3, 6}, Mode::eval);
  INFO(full.worst_place);
  CHECK(full.coordinates == (6 * 5 + 5) + (5 * 4 + 4) + (4 * 3 + 3));
  CHECK(full.grad_abs_sum > 0.1);
  CHECK(full.worst_error < 2e-3);

  // Up to the logits, as the trainer runs it when softmax is fused into the loss.
  const ModelGradientReport logits = check_model_gradients(model, Shape{3, 6}, Mode::eval, model.size() - 1);
  INFO(logits.worst_place);
  CHECK(logits.worst_error < 2e-3);
  CHECK(model.output(model.size() - 2).shape() == Shape{3, 3});
}

TEST_CASE("model: forward/backward of a small CNN (conv, batch norm in train mode, pool, dense)") {
  Model model = build(
      "    - {type: conv2d, name: conv1, filters: 3, kernel: 3, padding: same, activation: tanh}\n"
      "    - {type: batchnorm, name: bn1}\n"
      "    - {type: maxpool2d, pool: 2}\n"
      "    - {type: flatten}\n"
      "    - {type: dense, name: fc1, units: 4, activation: sigmoid}\n"
      "    - {type: dense, name: out, units: 3, activation: softmax}\n",
      Shape{1, 6, 6});
  CHECK(model.output_shape() == Shape{3});
  const ModelGradientReport report = check_model_gradients(model, Shape{3, 1, 6, 6}, Mode::train);
  INFO(report.worst_place);
  CHECK(report.coordinates == (27 + 3) + (3 + 3) + (27 * 4 + 4) + (4 * 3 + 3));
  CHECK(report.grad_abs_sum > 0.1);
  CHECK(report.worst_error < 2e-3);
  CHECK(report.kinks * 10 < report.coordinates);  // a few max-pool kinks at most
}

TEST_CASE("model: backward accumulates into parameter grads until zero_grads") {
  Model model = build("    - {type: dense, name: fc1, units: 2}\n", Shape{3});
  Rng rng(2);
  const Tensor input = testing::random_normal(Shape{4, 3}, rng);
  const Tensor probe = testing::random_normal(Shape{4, 2}, rng);
  model.forward(input, ForwardContext{});
  model.zero_grads();
  model.backward(input, probe);
  const Tensor once = model.parameters()[0].parameter->grad;
  model.backward(input, probe);
  const Tensor& twice = model.parameters()[0].parameter->grad;
  for (Index i = 0; i < once.size(); ++i) CHECK(twice[i] == doctest::Approx(2.0 * once[i]));
}
