#include <doctest/doctest.h>

#include <cmath>

#include "core/errors.hpp"
#include "data/dataset.hpp"

using namespace dlrun;

namespace {

// Rows (x0, x1): x1 is constant on the training rows 0-2; row 3 is an outlier outside the fit.
Dataset float_dataset() {
  Dataset dataset;
  dataset.sample_shape = Shape{2};
  dataset.floats = {1, 5, 2, 5, 3, 5, 1000, -1000};
  dataset.labels = {0, 1, 0, 1};
  dataset.class_names = {"a", "b"};
  return dataset;
}

const std::vector<Index> kTrainRows{0, 1, 2};

}  // namespace

TEST_CASE("transform: standard statistics come from the training rows only; std 0 becomes 1") {
  const Dataset dataset = float_dataset();
  const InputTransform transform = InputTransform::fit(dataset, kTrainRows, 1.0, "standard");
  // x0 over rows 0-2: mean 2, population std sqrt(2/3). x1: mean 5, std 0 -> 1.
  const double std0 = std::sqrt(2.0 / 3.0);
  std::vector<float> out(2);
  transform.apply(std::vector<float>{3, 5}, out);
  CHECK(out[0] == doctest::Approx(1.0 / std0).epsilon(1e-6));
  CHECK(out[1] == doctest::Approx(0.0));
  transform.apply(std::vector<float>{1000, -1000}, out);  // the outlier is transformed, not fitted
  CHECK(out[0] == doctest::Approx(998.0 / std0).epsilon(1e-6));
  CHECK(out[1] == doctest::Approx(-1005.0));
}

TEST_CASE("transform: scale is folded in; minmax maps the training range to [0, 1]") {
  const Dataset dataset = float_dataset();
  const InputTransform scaled = InputTransform::fit(dataset, kTrainRows, 4.0, "none");
  CHECK(scaled.multiplier == std::vector<float>{0.25f, 0.25f});
  CHECK(scaled.offset == std::vector<float>{0.0f, 0.0f});

  const InputTransform minmax = InputTransform::fit(dataset, kTrainRows, 10.0, "minmax");
  std::vector<float> out(2);
  minmax.apply(std::vector<float>{1, 5}, out);
  CHECK(out[0] == doctest::Approx(0.0));
  CHECK(out[1] == doctest::Approx(0.0));  // range 0 -> 1: (x / 10 - 0.5) / 1
  minmax.apply(std::vector<float>{3, 15}, out);
  CHECK(out[0] == doctest::Approx(1.0));
  CHECK(out[1] == doctest::Approx(1.0));

  // Standardising scaled values gives the same result as standardising raw ones.
  const InputTransform a = InputTransform::fit(dataset, kTrainRows, 1.0, "standard");
  const InputTransform b = InputTransform::fit(dataset, kTrainRows, 255.0, "standard");
  std::vector<float> out_a(2), out_b(2);
  a.apply(std::vector<float>{2.5f, 5}, out_a);
  b.apply(std::vector<float>{2.5f, 5}, out_b);
  CHECK(out_a[0] == doctest::Approx(out_b[0]).epsilon(1e-5));
}

TEST_CASE("transform: uint8 inputs; an empty transform is the identity; bad settings throw") {
  Dataset images;
  images.sample_shape = Shape{1, 1, 2};
  images.bytes = {0, 255, 51, 102};
  const std::vector<Index> rows{0, 1};
  const InputTransform transform = InputTransform::fit(images, rows, 255.0, "none");
  std::vector<float> out(2);
  transform.apply(std::vector<std::uint8_t>{51, 255}, out);
  CHECK(out[0] == doctest::Approx(0.2));
  CHECK(out[1] == doctest::Approx(1.0));
  const InputTransform minmax = InputTransform::fit(images, rows, 255.0, "minmax");
  minmax.apply(std::vector<std::uint8_t>{51, 255}, out);
  CHECK(out[0] == doctest::Approx(1.0));  // feature 0 spans 0..51
  CHECK(out[1] == doctest::Approx(1.0));  // feature 1 spans 102..255

  InputTransform{}.apply(std::vector<std::uint8_t>{7, 9}, out);
  CHECK(out == std::vector<float>{7, 9});

  CHECK_THROWS_AS(InputTransform::fit(images, rows, 1.0, "zscore"), ConfigError);
  CHECK_THROWS_AS(InputTransform::fit(images, rows, 0.0, "none"), ConfigError);
}

TEST_CASE("gather: inputs, labels and targets go into preallocated buffers") {
  Dataset images;
  images.sample_shape = Shape{1, 2, 2};
  for (int i = 0; i < 5 * 4; ++i) images.bytes.push_back(static_cast<std::uint8_t>(i));
  images.labels = {0, 1, 2, 1, 0};
  images.class_names = {"0", "1", "2"};
  const InputTransform transform =
      InputTransform::fit(images, std::vector<Index>{0, 1, 2, 3, 4}, 2.0, "none");

  Tensor inputs;
  std::vector<std::int32_t> labels;
  const std::vector<Index> batch{4, 1, 3};
  gather_inputs(images, batch, transform, inputs);
  gather_labels(images, batch, labels);
  CHECK(inputs.shape() == Shape{3, 1, 2, 2});
  CHECK(inputs[0] == 8.0f);   // row 4, pixel 0 = 16, / 2
  CHECK(inputs[5] == 2.5f);   // row 1, pixel 1 = 5, / 2
  CHECK(inputs[11] == 7.5f);  // row 3, pixel 3 = 15, / 2
  CHECK(labels == std::vector<std::int32_t>{0, 1, 1});

  // The same batch size again reuses the buffers; a smaller last batch keeps their capacity.
  const float* data = inputs.data();
  const std::int32_t* label_data = labels.data();
  gather_inputs(images, std::vector<Index>{0, 2, 2}, transform, inputs);
  gather_labels(images, std::vector<Index>{0, 2, 2}, labels);
  CHECK(inputs.data() == data);
  CHECK(labels.data() == label_data);
  CHECK(inputs[4] == 4.0f);
  gather_inputs(images, std::vector<Index>{3}, transform, inputs);
  gather_labels(images, std::vector<Index>{3}, labels);
  CHECK(inputs.shape() == Shape{1, 1, 2, 2});
  CHECK(inputs.data() == data);
  CHECK(labels == std::vector<std::int32_t>{1});

  Dataset regression;
  regression.sample_shape = Shape{1};
  regression.floats = {1, 2, 3};
  regression.targets = {10, 11, 20, 21, 30, 31};
  regression.target_shape = Shape{2};
  Tensor targets;
  gather_targets(regression, std::vector<Index>{2, 0}, targets);
  CHECK(targets.shape() == Shape{2, 2});
  CHECK(targets[0] == 30.0f);
  CHECK(targets[3] == 11.0f);
  CHECK_THROWS_AS(gather_targets(images, batch, targets), InternalError);
  CHECK_THROWS_AS(gather_inputs(images, std::vector<Index>{5}, transform, inputs), InternalError);
}

TEST_CASE("gather: text labels are per step") {
  Dataset text;
  text.sample_shape = Shape{3};
  text.bytes = {0, 1, 2, 2, 1, 0};
  text.labels = {1, 2, 2, 1, 0, 0};
  text.labels_per_sample = 3;
  text.class_names = {"a", "b", "c"};
  std::vector<std::int32_t> labels;
  gather_labels(text, std::vector<Index>{1, 0}, labels);
  CHECK(labels == std::vector<std::int32_t>{1, 0, 0, 1, 2, 2});
  Tensor inputs;
  gather_inputs(text, std::vector<Index>{1}, InputTransform{}, inputs);
  CHECK(inputs.shape() == Shape{1, 3});
  CHECK(std::vector<float>(inputs.values().begin(), inputs.values().end()) == std::vector<float>{2, 1, 0});
}
