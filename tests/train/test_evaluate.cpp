// Evaluation and its parts: fusing a final softmax/sigmoid into the loss, checking that the task
// fits the model, evaluate() against a hand loop, the batch assembler's targets, and turning
// outputs into class probabilities; prediction over a dataset.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>

#include "config/config_test_util.hpp"
#include "losses/loss.hpp"
#include "model/model_test_support.hpp"
#include "support/gradient_check.hpp"
#include "support/messages.hpp"
#include "train/evaluate.hpp"
#include "train/predict.hpp"

using namespace dlrun;
using dlrun::testing::build_model;
using dlrun::testing::config_error;
using testing::contains;

namespace {

std::unique_ptr<Loss> loss_named(const std::string& type) {
  const Node none;
  Options options(none, "loss");
  return make_loss(type, Location{}, options);
}

// `count` examples of `features` values drawn from a fixed stream; labels cycle through `classes`
// (or regression targets, one per example, when classes is 0).
std::shared_ptr<Dataset> make_dataset(Index count, Index features, Index classes, std::uint64_t seed = 9) {
  auto dataset = std::make_shared<Dataset>();
  dataset->source = "tiny.csv";
  dataset->sample_shape = Shape{features};
  Rng rng(seed);
  dataset->floats.resize(static_cast<std::size_t>(count * features));
  rng.fill_normal(dataset->floats, 0.0f, 1.0f);
  if (classes > 0) {
    for (Index i = 0; i < count; ++i)
      dataset->labels.push_back(static_cast<std::int32_t>((i * 7 + 1) % classes));
    for (Index c = 0; c < classes; ++c) dataset->class_names.push_back("c" + std::to_string(c));
  } else {
    dataset->target_shape = Shape{1};
    for (Index i = 0; i < count; ++i) dataset->targets.push_back(0.5f * static_cast<float>(i) - 1.0f);
  }
  return dataset;
}

// One example of the dataset as a (1, features...) batch.
Tensor example(const Dataset& dataset, Index row) {
  Tensor input(dataset.sample_shape.with_batch(1));
  const Index per = dataset.features_per_sample();
  for (Index f = 0; f < per; ++f) input[f] = dataset.floats[static_cast<std::size_t>(row * per + f)];
  return input;
}

}  // namespace

TEST_CASE("bind_loss: a final softmax/sigmoid is fused into cross_entropy/binary_cross_entropy") {
  Model softmax = build_model("    - {type: dense, units: 3, activation: softmax}\n", Shape{4});
  Model sigmoid =
      build_model("    - {type: dense, units: 1}\n    - {type: activation, function: sigmoid}\n", Shape{4});
  Model plain = build_model("    - {type: dense, units: 3}\n", Shape{4});
  const auto cross_entropy = loss_named("cross_entropy");
  const auto binary = loss_named("binary_cross_entropy");
  const auto mse = loss_named("mse");

  CHECK(softmax.size() == 2);
  LossBinding binding = bind_loss(softmax, *cross_entropy);
  CHECK(binding.loss == cross_entropy.get());
  CHECK(binding.depth == 1);
  CHECK(bind_loss(sigmoid, *binary).depth == 1);

  // Anything else runs every layer: no final activation, the other pairing, or a regression loss.
  CHECK(bind_loss(plain, *cross_entropy).depth == 1);
  CHECK(plain.size() == 1);
  CHECK(bind_loss(softmax, *binary).depth == 2);
  CHECK(bind_loss(sigmoid, *cross_entropy).depth == 2);
  CHECK(bind_loss(softmax, *mse).depth == 2);
  CHECK(bind_loss(sigmoid, *mse).depth == 2);
}

TEST_CASE("check_task_fits_model: classes against the last layer's units") {
  Model four = build_model("    - {type: dense, units: 4, activation: softmax}\n", Shape{5});
  const auto cross_entropy = loss_named("cross_entropy");
  Task task;
  task.classes = 4;
  CHECK_NOTHROW(check_task_fits_model(task, Shape{}, four, *cross_entropy));
  task.classes = 3;
  const std::string error = config_error([&] { check_task_fits_model(task, Shape{}, four, *cross_entropy); });
  CHECK(contains(error, "outputs 4 values but the data has 3 classes"));
  CHECK(contains(error, "units: 3"));

  // binary_cross_entropy with labels: one output unit and two classes.
  const auto binary = loss_named("binary_cross_entropy");
  Model one = build_model("    - {type: dense, units: 1, activation: sigmoid}\n", Shape{5});
  Model two = build_model("    - {type: dense, units: 2, activation: sigmoid}\n", Shape{5});
  task.classes = 2;
  CHECK_NOTHROW(check_task_fits_model(task, Shape{}, one, *binary));
  CHECK(
      contains(config_error([&] { check_task_fits_model(task, Shape{}, two, *binary); }), "one output unit"));
  task.classes = 3;
  CHECK(contains(config_error([&] { check_task_fits_model(task, Shape{}, one, *binary); }), "two classes"));
}

TEST_CASE("check_task_fits_model: regression targets and autoencoder inputs against the output") {
  const auto mse = loss_named("mse");
  Model two = build_model("    - {type: dense, units: 2}\n", Shape{5});
  Task regression;
  CHECK_NOTHROW(check_task_fits_model(regression, Shape{2}, two, *mse));
  const std::string error = config_error([&] { check_task_fits_model(regression, Shape{1}, two, *mse); });
  CHECK(contains(error, "the model outputs [2] per example but the targets have [1]"));
  CHECK(contains(error, "produce 1 values"));

  // Autoencoder: an image (1, 4, 4) is reconstructed by 16 outputs; 8 do not fit.
  Task autoencoder;
  autoencoder.autoencoder = true;
  Model sixteen = build_model("    - {type: flatten}\n    - {type: dense, units: 16, activation: sigmoid}\n",
                              Shape{1, 4, 4});
  Model eight = build_model("    - {type: flatten}\n    - {type: dense, units: 8}\n", Shape{1, 4, 4});
  CHECK_NOTHROW(check_task_fits_model(autoencoder, Shape{1, 4, 4}, sixteen, *mse));
  const std::string ae = config_error([&] {
    check_task_fits_model(autoencoder, Shape{1, 4, 4}, eight, *mse);
  });
  CHECK(contains(ae, "autoencoder"));
  CHECK(contains(ae, "[1, 4, 4]"));
}

TEST_CASE("evaluate: classification equals a loop over single examples") {
  const auto dataset = make_dataset(7, 3, 3);
  const DataView view{dataset, {4, 0, 6, 2, 5}};
  Model model = build_model(
      "    - {type: dense, units: 5, activation: tanh}\n    - {type: dense, units: 3, activation: softmax}\n",
      Shape{3});
  const auto loss = loss_named("cross_entropy");
  const LossBinding binding = bind_loss(model, *loss);
  Task task;
  task.classes = 3;
  task.output_shape = model.output_shape();

  // Batches of 2 (the last one partial), in the view's row order.
  const Evaluation evaluation = evaluate(model, binding, view, InputTransform{}, task, {"accuracy", "f1"}, 2);

  double loss_sum = 0.0;
  Index correct = 0;
  std::vector<std::vector<std::int64_t>> confusion(3, std::vector<std::int64_t>(3, 0));
  for (const Index row : view.rows) {
    const Tensor input = example(*dataset, row);
    const Tensor& probabilities = model.forward(input, ForwardContext{});  // all layers: softmax applied
    const std::int32_t label = dataset->labels[static_cast<std::size_t>(row)];
    loss_sum += -std::log(static_cast<double>(probabilities[label]));
    const auto predicted =
        std::max_element(probabilities.data(), probabilities.data() + 3) - probabilities.data();
    correct += predicted == label ? 1 : 0;
    ++confusion[static_cast<std::size_t>(label)][static_cast<std::size_t>(predicted)];
  }
  REQUIRE(evaluation.values.size() == 3);
  CHECK(evaluation.values[0].first == "loss");
  CHECK(metric_value(evaluation.values, "loss") == doctest::Approx(loss_sum / 5).epsilon(1e-5));
  CHECK(metric_value(evaluation.values, "accuracy") == doctest::Approx(static_cast<double>(correct) / 5));
  CHECK(evaluation.confusion == confusion);
  CHECK(evaluation.per_class.size() == 3);

  // The batch size does not change the result.
  const Evaluation whole = evaluate(model, binding, view, InputTransform{}, task, {"accuracy", "f1"}, 64);
  CHECK(metric_value(whole.values, "loss") ==
        doctest::Approx(metric_value(evaluation.values, "loss")).epsilon(1e-6));
  CHECK(whole.confusion == evaluation.confusion);
}

TEST_CASE("evaluate: regression with a transform equals a hand loop, no confusion matrix") {
  const auto dataset = make_dataset(5, 2, 0);
  const DataView view{dataset, {0, 1, 2, 3, 4}};
  Model model = build_model("    - {type: dense, units: 1}\n", Shape{2});
  const auto loss = loss_named("mse");
  const LossBinding binding = bind_loss(model, *loss);
  Task task;
  task.output_shape = model.output_shape();
  InputTransform transform;
  transform.multiplier = {2.0f, 0.5f};
  transform.offset = {1.0f, -1.0f};

  const Evaluation evaluation = evaluate(model, binding, view, transform, task, {"mae", "rmse"}, 2);
  double squared = 0.0, absolute = 0.0;
  for (const Index row : view.rows) {
    Tensor input = example(*dataset, row);
    for (Index f = 0; f < 2; ++f) {
      input[f] = input[f] * transform.multiplier[static_cast<std::size_t>(f)] +
                 transform.offset[static_cast<std::size_t>(f)];
    }
    const double error =
        model.forward(input, ForwardContext{})[0] - dataset->targets[static_cast<std::size_t>(row)];
    squared += error * error;
    absolute += std::abs(error);
  }
  CHECK(metric_value(evaluation.values, "loss") == doctest::Approx(squared / 5).epsilon(1e-5));
  CHECK(metric_value(evaluation.values, "mae") == doctest::Approx(absolute / 5).epsilon(1e-5));
  CHECK(metric_value(evaluation.values, "rmse") == doctest::Approx(std::sqrt(squared / 5)).epsilon(1e-5));
  CHECK(evaluation.confusion.empty());
  CHECK(evaluation.per_class.empty());
}

TEST_CASE(
    "evaluate: a binary_cross_entropy autoencoder's value metrics read the sigmoid's output, not logits") {
  // Inputs in [0, 1] reconstructed through a final sigmoid that is fused into the loss.
  auto dataset = make_dataset(6, 4, 0);
  for (float& value : dataset->floats) value = 1.0f / (1.0f + std::exp(-value));
  const DataView view{dataset, {0, 1, 2, 3, 4, 5}};
  Model model = build_model(
      "    - {type: dense, units: 2, activation: tanh}\n    - {type: dense, units: 4, activation: sigmoid}\n",
      Shape{4});
  const auto loss = loss_named("binary_cross_entropy");
  const LossBinding binding = bind_loss(model, *loss);
  REQUIRE(binding.depth == model.size() - 1);
  Task task;
  task.autoencoder = true;
  task.output_shape = model.output_shape();

  const Evaluation evaluation = evaluate(model, binding, view, InputTransform{}, task, {"mae", "rmse"}, 4);
  double bce = 0.0, absolute = 0.0, squared = 0.0;
  for (const Index row : view.rows) {
    const Tensor input = example(*dataset, row);
    const Tensor& reconstruction = model.forward(input, ForwardContext{});  // sigmoid applied
    for (Index f = 0; f < 4; ++f) {
      const double p = reconstruction[f], y = input[f];
      bce -= y * std::log(p) + (1 - y) * std::log(1 - p);
      absolute += std::abs(p - y);
      squared += (p - y) * (p - y);
    }
  }
  CHECK(metric_value(evaluation.values, "loss") == doctest::Approx(bce / 24).epsilon(1e-5));
  CHECK(metric_value(evaluation.values, "mae") == doctest::Approx(absolute / 24).epsilon(1e-5));
  CHECK(metric_value(evaluation.values, "rmse") == doctest::Approx(std::sqrt(squared / 24)).epsilon(1e-5));
}

TEST_CASE("metric_predictions: logits for class metrics, the final output for value metrics") {
  Model model = build_model("    - {type: dense, units: 1, activation: sigmoid}\n", Shape{2});
  const auto loss = loss_named("binary_cross_entropy");
  const LossBinding binding = bind_loss(model, *loss);
  const Tensor input(Shape{3, 2}, 0.5f);
  const Tensor logits = model.forward(input, ForwardContext{}, binding.depth);
  Tensor buffer;
  Task binary;
  binary.classes = 2;
  CHECK(&metric_predictions(model, binding, binary, logits, buffer) == &logits);
  Task values;
  const Tensor& probabilities = metric_predictions(model, binding, values, logits, buffer);
  CHECK(&probabilities == &buffer);
  REQUIRE(probabilities.shape() == Shape{3, 1});
  for (Index i = 0; i < 3; ++i)
    CHECK(probabilities[i] == doctest::Approx(1.0 / (1.0 + std::exp(-logits[i]))));
  // Nothing fused: the output as it is.
  const LossBinding unfused = bind_loss(model, *loss_named("mse"));
  const Tensor& all = model.forward(input, ForwardContext{}, unfused.depth);
  CHECK(&metric_predictions(model, unfused, values, all, buffer) == &all);
}

TEST_CASE("BatchAssembler: classification labels, regression and autoencoder targets") {
  const std::vector<Index> rows{3, 1};
  SUBCASE("classification") {
    const auto dataset = make_dataset(5, 3, 4);
    Task task;
    task.classes = 4;
    BatchAssembler batch;
    batch.assemble(*dataset, rows, InputTransform{}, task);
    CHECK(batch.inputs().shape() == Shape{2, 3});
    for (Index f = 0; f < 3; ++f)
      CHECK(batch.inputs()[3 + f] == dataset->floats[static_cast<std::size_t>(3 + f)]);
    const BatchTargets targets = batch.targets();
    CHECK(targets.values == nullptr);
    REQUIRE(targets.labels.size() == 2);
    CHECK(targets.labels[0] == dataset->labels[3]);
    CHECK(targets.labels[1] == dataset->labels[1]);
  }
  SUBCASE("regression: targets take the model's output shape") {
    const auto dataset = make_dataset(5, 3, 0);
    Task task;
    task.output_shape = Shape{1};
    BatchAssembler batch;
    batch.assemble(*dataset, rows, InputTransform{}, task);
    const BatchTargets targets = batch.targets();
    CHECK(targets.labels.empty());
    REQUIRE(targets.values != nullptr);
    CHECK(targets.values->shape() == Shape{2, 1});
    CHECK((*targets.values)[0] == dataset->targets[3]);
    CHECK((*targets.values)[1] == dataset->targets[1]);
    // A smaller batch next (the epoch's last) resizes the buffers.
    const std::vector<Index> one{4};
    batch.assemble(*dataset, one, InputTransform{}, task);
    CHECK(batch.inputs().shape() == Shape{1, 3});
    CHECK(batch.targets().values->shape() == Shape{1, 1});
    CHECK((*batch.targets().values)[0] == dataset->targets[4]);
  }
  SUBCASE("autoencoder: the transformed inputs, shaped like the output") {
    auto dataset = make_dataset(5, 4, 2);
    dataset->sample_shape = Shape{1, 2, 2};
    Task task;
    task.autoencoder = true;
    task.output_shape = Shape{4};  // a dense decoder's flat output
    InputTransform transform;
    transform.multiplier.assign(4, 0.5f);
    transform.offset.assign(4, 1.0f);
    BatchAssembler batch;
    batch.assemble(*dataset, rows, transform, task);
    CHECK(batch.inputs().shape() == Shape{2, 1, 2, 2});
    const BatchTargets targets = batch.targets();
    CHECK(targets.labels.empty());  // the labels are ignored
    REQUIRE(targets.values != nullptr);
    CHECK(targets.values->shape() == Shape{2, 4});
    for (Index i = 0; i < 8; ++i) {
      const Index row = rows[static_cast<std::size_t>(i / 4)];
      CHECK((*targets.values)[i] ==
            doctest::Approx(dataset->floats[static_cast<std::size_t>(row * 4 + i % 4)] * 0.5f + 1.0f));
      CHECK((*targets.values)[i] == batch.inputs()[i]);
    }
  }
}

TEST_CASE("class_probabilities: softmax, sigmoid, or the outputs as they are") {
  std::vector<double> p;
  const std::vector<float> logits{1.0f, 2.0f, 3.0f};
  class_probabilities(logits, "cross_entropy", false, p);
  const double sum = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  REQUIRE(p.size() == 3);
  CHECK(p[0] == doctest::Approx(std::exp(1.0) / sum));
  CHECK(p[1] == doctest::Approx(std::exp(2.0) / sum));
  CHECK(p[2] == doctest::Approx(std::exp(3.0) / sum));

  // Large logits do not overflow (the max is subtracted first).
  const std::vector<float> large{1000.0f, 0.0f};
  class_probabilities(large, "cross_entropy", false, p);
  CHECK(p[0] == doctest::Approx(1.0));
  CHECK(p[1] == doctest::Approx(0.0));

  // The model's softmax already ran: the outputs are the probabilities.
  const std::vector<float> probabilities{0.2f, 0.5f, 0.3f};
  class_probabilities(probabilities, "cross_entropy", true, p);
  CHECK(p == std::vector<double>{0.2f, 0.5f, 0.3f});

  // binary_cross_entropy: one logit -> {1 - sigmoid, sigmoid}.
  const std::vector<float> logit{0.5f};
  class_probabilities(logit, "binary_cross_entropy", false, p);
  const double s = 1.0 / (1.0 + std::exp(-0.5));
  REQUIRE(p.size() == 2);
  CHECK(p[0] == doctest::Approx(1.0 - s));
  CHECK(p[1] == doctest::Approx(s));
  const std::vector<float> applied{0.8f};
  class_probabilities(applied, "binary_cross_entropy", true, p);
  CHECK(p[0] == doctest::Approx(0.2));
  CHECK(p[1] == doctest::Approx(0.8));
}

TEST_CASE("predict_all: every example in order, as one forward pass over all layers gives it") {
  const auto dataset = make_dataset(5, 3, 2);
  Model model = build_model("    - {type: dense, units: 2, activation: softmax}\n", Shape{3});
  std::vector<Index> seen;
  std::vector<std::vector<float>> outputs;
  predict_all(model, *dataset, InputTransform{}, 2, [&](Index index, std::span<const float> output) {
    seen.push_back(index);
    outputs.emplace_back(output.begin(), output.end());
  });
  CHECK(seen == std::vector<Index>{0, 1, 2, 3, 4});
  for (Index i = 0; i < 5; ++i) {
    const Tensor& expected = model.forward(example(*dataset, i), ForwardContext{});
    REQUIRE(outputs[static_cast<std::size_t>(i)].size() == 2);
    for (Index c = 0; c < 2; ++c)
      CHECK(outputs[static_cast<std::size_t>(i)][static_cast<std::size_t>(c)] ==
            doctest::Approx(expected[c]));
  }
}
