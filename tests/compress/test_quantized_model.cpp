// Int8 inference against the float model: the plan, each kind of int8 step on its own within the
// error that the quantization scales allow, two steps in a row (requantized uint8 between them), a
// whole model, and the quantized checkpoint read back, or refused with the field named.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "compress/quantized_checkpoint.hpp"
#include "compress/quantized_model.hpp"
#include "core/errors.hpp"
#include "io/safetensors.hpp"
#include "model/model_test_support.hpp"
#include "support/temp_dir.hpp"

using namespace dlrun;

namespace {

Tensor random_input(const Shape& shape, Rng& rng, float low, float high) {
  Tensor x(shape);
  for (float& v : x.values()) v = rng.uniform(low, high);
  return x;
}

std::pair<float, float> range_of(std::span<const float> values) {
  const auto [low, high] = std::minmax_element(values.begin(), values.end());
  return {*low, *high};
}

// Quantizes every int8 step with input ranges observed on `x` through the float model.
std::vector<QuantizedLayer> quantize_on(Model& model, const Tensor& x) {
  model.forward(x, ForwardContext{Mode::eval, nullptr});
  std::vector<QuantizedLayer> layers;
  for (const QuantizationStep& step : plan_quantization(model)) {
    if (!step.int8) continue;
    const auto [low, high] = range_of(step.first == 0 ? x.values() : model.output(step.first - 1).values());
    layers.push_back(quantize_step(model, step, low, high));
  }
  return layers;
}

// The error bound of one output of an int8 step, per output channel: every product x w of its
// K terms is computed as (x + ex)(w + ew) with |ex| <= input scale / 2 and |ew| <= weight scale / 2,
// so the sum is off by at most K (max|x| sw/2 + max|w| sx/2 + sx sw/4). Relu and max pooling
// do not widen it (both are 1-Lipschitz in the largest difference).
std::vector<double> step_bounds(const QuantizedLayer& layer, float max_input) {
  std::vector<double> bounds;
  const double sx = layer.input.scale;
  for (Index f = 0; f < layer.weights.rows; ++f) {
    const double sw = layer.weights.scales[static_cast<std::size_t>(f)];
    const double max_w = 127.0 * sw;
    bounds.push_back(static_cast<double>(layer.weights.cols) *
                     (max_input * sw / 2 + max_w * sx / 2 + sx * sw / 4));
  }
  return bounds;
}

// Output element i of an (N, F, ...) or (N, F) output belongs to channel (i / plane) % F.
void check_within(const Tensor& expected, const Tensor& actual, const std::vector<double>& bounds,
                  double extra = 0.0) {
  REQUIRE(expected.shape() == actual.shape());
  const Index channels = static_cast<Index>(bounds.size());
  const Index plane = expected.size() / expected.shape()[0] / channels;
  double worst = 0.0;
  for (Index i = 0; i < expected.size(); ++i) {
    const double bound = bounds[static_cast<std::size_t>((i / plane) % channels)] + extra;
    const double error = std::fabs(static_cast<double>(expected[i]) - actual[i]);
    worst = std::max(worst, error / bound);
    if (error > bound) {
      CAPTURE(i);
      CHECK(error <= bound);
      return;
    }
  }
  MESSAGE("largest error / bound: " << worst);
}

Tensor float_output(Model& model, const Tensor& x) {
  return model.forward(x, ForwardContext{Mode::eval, nullptr});
}

void set_batchnorm_statistics(Model& model, Index layer, Rng& rng) {
  for (Parameter& p : model.layer(layer).layer->parameters()) {
    for (float& v : p.value.values()) {
      if (p.name == "running_var") v = rng.uniform(0.2f, 3.0f);
      if (p.name == "running_mean" || p.name == "bias") v = rng.uniform(-0.5f, 0.5f);
      if (p.name == "weight") v = rng.uniform(-2.0f, 2.0f);  // a negative gamma flips a channel
    }
  }
}

std::vector<Int8Kernel> kernels() {
  std::vector<Int8Kernel> list{Int8Kernel::pairs};
  if (cpu_has_vnni()) list.push_back(Int8Kernel::vnni);
  return list;
}

}  // namespace

TEST_CASE("int8 plan: conv/dense steps take a following batchnorm, relu, maxpool, flatten, dropout") {
  Model model = testing::build_model(
      "    - {type: conv2d, name: c1, filters: 4, kernel: 3, padding: same, bias: false}\n"
      "    - {type: batchnorm, name: bn1, activation: relu}\n"
      "    - {type: maxpool2d, pool: 2}\n"
      "    - {type: conv2d, name: c2, filters: 4, kernel: 3, groups: 2}\n"
      "    - {type: flatten}\n"
      "    - {type: dense, name: fc, units: 6}\n"
      "    - {type: activation, function: relu}\n"
      "    - {type: dropout, rate: 0.5}\n"
      "    - {type: dense, name: mid, units: 5, activation: tanh}\n"
      "    - {type: dense, name: out, units: 3, activation: softmax}\n",
      Shape{2, 8, 8});
  const auto plan = plan_quantization(model);
  std::vector<std::string> kinds;
  for (const QuantizationStep& step : plan) {
    std::string text = (step.int8 ? "int8 " : "float ") + model.layer(step.first).name;
    for (Index i = step.first + 1; i < step.end; ++i) text += "+" + model.layer(i).type;
    if (step.int8 && step.relu) text += " relu";
    kinds.push_back(text);
  }
  // c2 is grouped (float), which takes its fused flatten along; tanh has no int8 path.
  const std::vector<std::string> expected{"int8 c1+batchnorm+maxpool2d relu",
                                          "float c2+flatten",
                                          "int8 fc+activation+dropout relu",
                                          "int8 mid",
                                          "float mid_tanh",
                                          "int8 out",
                                          "float out_softmax"};
  CHECK(kinds == expected);
  CHECK(plan[0].batchnorm == 1);
  CHECK(plan[0].maxpool == 2);
}

TEST_CASE("int8 step: conv2d with relu and maxpool, and with padding, stride and a folded batchnorm") {
  Rng rng(21);
  for (const Int8Kernel kernel : kernels()) {
    CAPTURE(static_cast<int>(kernel));
    {
      Model model = testing::build_model(
          "    - {type: conv2d, name: c, filters: 7, kernel: 3, activation: relu}\n    - {type: maxpool2d, "
          "pool: 2}\n",
          Shape{3, 9, 9});
      const Tensor x = random_input(Shape{5, 3, 9, 9}, rng, -1.0f, 2.0f);
      QuantizedModel quantized(model, quantize_on(model, x), kernel);
      REQUIRE(quantized.plan().size() == 1);
      check_within(float_output(model, x), quantized.forward(x), step_bounds(quantized.layers()[0], 2.0f));
    }
    {
      Model model = testing::build_model(
          "    - {type: conv2d, name: c, filters: 5, kernel: [3, 2], stride: 2, padding: 1, dilation: [1, "
          "2], bias: false}\n"
          "    - {type: batchnorm, name: bn}\n",
          Shape{2, 7, 8});
      set_batchnorm_statistics(model, 1, rng);
      const Tensor x = random_input(Shape{3, 2, 7, 8}, rng, 0.0f, 1.0f);
      QuantizedModel quantized(model, quantize_on(model, x), kernel);
      REQUIRE(quantized.plan().size() == 1);
      CHECK(quantized.plan()[0].batchnorm == 1);
      check_within(float_output(model, x), quantized.forward(x), step_bounds(quantized.layers()[0], 1.0f));
    }
  }
}

TEST_CASE(
    "int8 step: convolution windows read in place (padding, stride, widths 2-5), pooled in or after the "
    "GEMM") {
  Rng rng(25);
  // Windows read in place, whole quads past the kernel's width (3, 5), the padding written out
  // around the image (1, same: uneven); pools that tile the output run in the GEMM, overlapping or
  // padded ones after it.
  const std::vector<std::string> convs{"kernel: 3", "kernel: 3, padding: 1", "kernel: 5, stride: 2",
                                       "kernel: [2, 4], padding: 1", "kernel: 4, padding: same"};
  const std::vector<std::string> pools{"pool: 2", "pool: [2, 3]", "pool: 3, stride: 2",
                                       "pool: 2, padding: 1"};
  for (const Int8Kernel kernel : kernels()) {
    CAPTURE(static_cast<int>(kernel));
    for (std::size_t i = 0; i < convs.size(); ++i) {
      const std::string& conv = convs[i];
      const std::string& pool = pools[(i + static_cast<std::size_t>(kernel)) % pools.size()];
      CAPTURE(conv);
      CAPTURE(pool);
      Model model = testing::build_model("    - {type: conv2d, name: c, filters: 17, " + conv +
                                             ", activation: relu}\n    - {type: maxpool2d, " + pool + "}\n",
                                         Shape{2, 10, 11});
      const Tensor x = random_input(Shape{3, 2, 10, 11}, rng, -1.0f, 2.0f);
      QuantizedModel quantized(model, quantize_on(model, x), kernel);
      REQUIRE(quantized.plan().size() == 1);
      check_within(float_output(model, x), quantized.forward(x), step_bounds(quantized.layers()[0], 2.0f));
    }
  }
}

TEST_CASE("int8 step: dense on (N, F) and on sequences (N, T, F), with a folded batchnorm and relu") {
  Rng rng(22);
  for (const Int8Kernel kernel : kernels()) {
    CAPTURE(static_cast<int>(kernel));
    Model model = testing::build_model(
        "    - {type: dense, name: fc, units: 19}\n    - {type: batchnorm, name: bn, activation: relu}\n",
        Shape{37});
    set_batchnorm_statistics(model, 1, rng);
    const Tensor x = random_input(Shape{11, 37}, rng, -3.0f, 1.0f);
    QuantizedModel quantized(model, quantize_on(model, x), kernel);
    check_within(float_output(model, x), quantized.forward(x), step_bounds(quantized.layers()[0], 3.0f));

    Model sequence = testing::build_model("    - {type: dense, name: fc, units: 6}\n", Shape{4, 10});
    const Tensor xs = random_input(Shape{3, 4, 10}, rng, -1.0f, 1.0f);
    QuantizedModel quantized_sequence(sequence, quantize_on(sequence, xs), kernel);
    check_within(float_output(sequence, xs), quantized_sequence.forward(xs),
                 step_bounds(quantized_sequence.layers()[0], 1.0f));
  }
}

TEST_CASE("int8 steps in a row: the uint8 output requantized for the next step, within its half step") {
  Rng rng(23);
  Model model = testing::build_model(
      "    - {type: conv2d, name: c, filters: 6, kernel: 3, activation: relu}\n    - {type: flatten}\n"
      "    - {type: dense, name: fc, units: 4}\n",
      Shape{1, 6, 6});
  const Tensor x = random_input(Shape{4, 1, 6, 6}, rng, 0.0f, 1.0f);
  QuantizedModel quantized(model, quantize_on(model, x));
  REQUIRE(quantized.plan().size() == 2);
  // Stopping after the conv2d step dequantizes its uint8 output (the fc step's input quantization).
  const Index depth = quantized.plan()[0].end;
  const Tensor expected = model.forward(x, ForwardContext{Mode::eval, nullptr}, depth);
  const Tensor conv_out = quantized.forward(x, depth);
  const float half_step = quantized.layers()[1].input.scale / 2;
  const std::vector<double> conv_bounds = step_bounds(quantized.layers()[0], 1.0f);
  check_within(expected, conv_out, conv_bounds, half_step * 1.001);
  // The whole model: the dense step's own bound on top of the error its input carries in.
  const Tensor y = float_output(model, x);
  const Tensor yq = quantized.forward(x);
  const QuantizedLayer& fc = quantized.layers()[1];
  const double carried = *std::max_element(conv_bounds.begin(), conv_bounds.end()) + half_step;
  std::vector<double> bounds = step_bounds(fc, range_of(conv_out.values()).second);
  for (Index f = 0; f < fc.weights.rows; ++f) {
    double row = 0.0;  // sum |w| over the row, times the input error
    for (Index i = 0; i < fc.weights.cols; ++i)
      row += std::abs(fc.weights.values[static_cast<std::size_t>(f * fc.weights.cols + i)]) *
             fc.weights.scales[static_cast<std::size_t>(f)];
    bounds[static_cast<std::size_t>(f)] += row * carried * 1.01;
  }
  check_within(y, yq, bounds);
}

TEST_CASE("int8 model: a float step in between, and the same results from every kernel") {
  Rng rng(24);
  Model model = testing::build_model(
      "    - {type: dense, name: a, units: 9, activation: tanh}\n"
      "    - {type: dense, name: b, units: 5, activation: relu}\n    - {type: dense, name: out, units: 3, "
      "activation: softmax}\n",
      Shape{12});
  const Tensor x = random_input(Shape{6, 12}, rng, -1.0f, 1.0f);
  const auto layers = quantize_on(model, x);
  QuantizedModel pairs(model, layers, Int8Kernel::pairs);
  const Tensor reference = pairs.forward(x);
  const Tensor expected = float_output(model, x);
  for (Index i = 0; i < expected.size(); ++i) CHECK(std::fabs(expected[i] - reference[i]) < 0.02);
  if (cpu_has_vnni()) {
    QuantizedModel vnni(model, layers, Int8Kernel::vnni);
    const Tensor fast = vnni.forward(x);
    for (Index i = 0; i < expected.size(); ++i) CHECK(fast[i] == reference[i]);
  }
}

TEST_CASE("quantized checkpoint: read back exactly; malformed ones name the tensor or field") {
  testing::TempDir dir;
  Rng rng(25);
  const std::string layers_yaml =
      "    - {type: conv2d, name: c, filters: 3, kernel: 3, bias: false}\n    - {type: batchnorm, name: bn, "
      "activation: relu}\n"
      "    - {type: flatten}\n    - {type: dense, name: mid, units: 4, activation: tanh}\n"
      "    - {type: dense, name: out, units: 2}\n";
  Model model = testing::build_model(layers_yaml, Shape{1, 5, 5});
  set_batchnorm_statistics(model, 1, rng);
  const Tensor x = random_input(Shape{3, 1, 5, 5}, rng, 0.0f, 1.0f);
  QuantizedModel quantized(model, quantize_on(model, x));
  const auto path = dir / "q.safetensors";
  write_quantized_checkpoint(path, quantized, "yaml", nlohmann::json::object());
  const Tensor expected = quantized.forward(x);

  Model fresh = testing::build_model(layers_yaml, Shape{1, 5, 5}, 99);  // other initial weights
  LoadedCheckpoint file = read_checkpoint(path);
  REQUIRE(is_quantized_checkpoint(file));
  CHECK_THROWS_WITH_AS(load_model_parameters(fresh, file), doctest::Contains("int8 quantized model"),
                       DataError);
  QuantizedModel loaded(fresh, read_quantized_layers(fresh, file));
  const Tensor actual = loaded.forward(x);
  for (Index i = 0; i < expected.size(); ++i) CHECK(actual[i] == expected[i]);  // mid (float) loaded too

  const auto expect_refused = [&](const std::string& tensor, float value, const std::string& message) {
    LoadedCheckpoint bad = read_checkpoint(path);
    std::vector<std::pair<std::string, const Tensor*>> tensors;
    for (auto& [name, t] : bad.contents.tensors) {
      if (name == tensor && std::isnan(value)) continue;  // NaN: leave the tensor out
      if (name == tensor) t.data()[0] = value;
      tensors.emplace_back(name, &t);
    }
    write_safetensors(dir / "bad.safetensors", tensors, bad.contents.metadata);  // all F32
    LoadedCheckpoint reread = read_checkpoint(dir / "bad.safetensors");
    Model target = testing::build_model(layers_yaml, Shape{1, 5, 5});
    CHECK_THROWS_WITH_AS(read_quantized_layers(target, reread), doctest::Contains(message.c_str()),
                         DataError);
  };
  expect_refused("out.weight_scale", NAN, "tensor 'out.weight_scale' is missing");
  expect_refused("c.weight", 1.5f, "tensor 'c.weight' holds 1.5, not an int8 value");
  expect_refused("c.weight", 300.0f, "not an int8 value");
  expect_refused("out.input_zero_point", 256.0f,
                 "'out.input_zero_point' holds 256.0, not an integer in [0, 255]");
  expect_refused("c.input_scale", 0.0f, "'c.input_scale' holds 0.0, not a scale");
  expect_refused("c.weight_scale", INFINITY, "'c.weight_scale' holds");

  // A config whose model differs: the int8 layers are named.
  Model other = testing::build_model("    - {type: flatten}\n    - {type: dense, name: fc, units: 2}\n",
                                     Shape{1, 5, 5});
  CHECK_THROWS_WITH_AS(read_quantized_layers(other, file),
                       doctest::Contains("are not those of the config's model"), DataError);
}
