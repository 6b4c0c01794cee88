#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/errors.hpp"
#include "model/model_test_support.hpp"
#include "support/messages.hpp"
#include "train/generate.hpp"

using namespace dlrun;

namespace {

// A causal test model: token ids (N, T) -> (N, T, V) logits that make the character after id a be
// (a + 1) % V (logit 5), then (a + 2) % V (logit 4), the rest 0. Forward only.
class NextCharTable final : public Layer {
 public:
  explicit NextCharTable(Index classes) : classes_(classes) {}
  std::string_view kind() const override { return "next_char_table"; }
  Shape output_shape(const Shape& input) const override { return Shape{input[0], input[1], classes_}; }
  void forward(const Tensor& input, Tensor& output, const ForwardContext&) override {
    output.resize(output_shape(input.shape()));
    output.fill(0.0f);
    for (Index i = 0; i < input.size(); ++i) {
      const auto id = static_cast<Index>(input[i]);
      output[i * classes_ + (id + 1) % classes_] = 5.0f;
      output[i * classes_ + (id + 2) % classes_] = 4.0f;
    }
  }
  void backward(const Tensor&, const Tensor&, const Tensor&, Tensor&) override {}

 private:
  Index classes_;
};

Model table_model(Index window, Index classes, const std::string& extra = "") {
  LayerRegistry registry = make_builtin_layer_registry();
  registry.add("next_char_table", [classes](Options&, const LayerBuildContext&) -> std::unique_ptr<Layer> {
    return std::make_unique<NextCharTable>(classes);
  });
  Rng rng(1);
  return Model::build(testing::layers_from_yaml("    - {type: next_char_table" + extra + "}\n"),
                      Shape{window}, registry, rng);
}

const Vocabulary kAbcde(std::vector<std::uint8_t>{'a', 'b', 'c', 'd', 'e'});

std::vector<int> draw_counts(const std::vector<float>& logits, const SamplingOptions& options, int draws) {
  Rng rng(7);
  std::vector<double> scratch;
  std::vector<int> counts(logits.size(), 0);
  for (int i = 0; i < draws; ++i)
    ++counts[static_cast<std::size_t>(sample_token(logits, options, rng, scratch))];
  return counts;
}

}  // namespace

TEST_CASE("sample_token: the same seed draws the same tokens; top-k 1 is the argmax") {
  const std::vector<float> logits{0.1f, 2.0f, -1.0f, 1.5f, 0.0f};
  std::vector<double> scratch;
  Rng a(3), b(3);
  for (int i = 0; i < 50; ++i) {
    CHECK(sample_token(logits, {1.0, 0}, a, scratch) == sample_token(logits, {1.0, 0}, b, scratch));
  }
  Rng rng(5);
  for (const double temperature : {0.1, 1.0, 10.0}) {
    for (int i = 0; i < 20; ++i) CHECK(sample_token(logits, {temperature, 1}, rng, scratch) == 1);
  }
  // Ties at the top: top-1 keeps the lower id.
  for (int i = 0; i < 20; ++i)
    CHECK(sample_token(std::vector<float>{1.0f, 3.0f, 3.0f}, {1.0, 1}, rng, scratch) == 1);
}

TEST_CASE("sample_token: frequencies follow softmax(logits / temperature); top-k cuts the tail") {
  const std::vector<float> logits{std::log(1.0f), std::log(2.0f), std::log(3.0f), std::log(4.0f)};
  const int draws = 20000;
  // Temperature 1: p = (1, 2, 3, 4) / 10.
  const auto plain = draw_counts(logits, {1.0, 0}, draws);
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(plain[i] / double(draws) == doctest::Approx((i + 1) / 10.0).epsilon(0.08));
  }
  // Temperature 0.5 squares the odds: p ∝ (1, 4, 9, 16); temperature 100 is nearly uniform.
  const auto sharp = draw_counts(logits, {0.5, 0}, draws);
  CHECK(sharp[3] / double(draws) == doctest::Approx(16.0 / 30).epsilon(0.05));
  CHECK(sharp[0] / double(draws) == doctest::Approx(1.0 / 30).epsilon(0.25));
  const auto flat = draw_counts(logits, {100.0, 0}, draws);
  for (const int count : flat) CHECK(count / double(draws) == doctest::Approx(0.25).epsilon(0.08));
  // Top 2: only ids 2 and 3, in the ratio 3 : 4.
  const auto top2 = draw_counts(logits, {1.0, 2}, draws);
  CHECK(top2[0] == 0);
  CHECK(top2[1] == 0);
  CHECK(top2[2] / double(draws) == doctest::Approx(3.0 / 7).epsilon(0.05));
  // A temperature so small that every weight but the maximum's underflows: the argmax.
  std::vector<double> scratch;
  Rng rng(1);
  CHECK(sample_token(logits, {1e-30, 0}, rng, scratch) == 3);
}

TEST_CASE("generate: greedy decoding follows the model; the window slides; a final softmax is skipped") {
  Model model = table_model(4, 5);
  TextGenerator generator(model, kAbcde);
  Rng rng(1);
  // The next character after c is d: the logits are read at the prompt's last position, not at
  // the padding after it; 12 characters slide the 4-character window along.
  CHECK(generator.generate("c", 12, {1.0, 1}, rng) == "cdeabcdeabcde");
  CHECK(generator.generate("abcdea", 3, {1.0, 1}, rng) == "abcdeabcd");
  CHECK(generator.generate("b", 0, {1.0, 0}, rng) == "b");

  Model with_softmax = table_model(4, 5, ", activation: softmax");
  TextGenerator softmax_generator(with_softmax, kAbcde);
  CHECK(softmax_generator.generate("c", 4, {1.0, 1}, rng) == "cdeab");
  // Top-2 sampling only ever picks the next or the one after.
  const std::string text = softmax_generator.generate("a", 40, {1.0, 2}, rng);
  for (std::size_t i = 1; i < text.size(); ++i) {
    const int step = (text[i] - text[i - 1] + 5) % 5;
    CHECK((step == 1 || step == 2));
  }
}

TEST_CASE("generate: the same seed gives the same text; another seed another text") {
  Model model = table_model(4, 5);
  TextGenerator generator(model, kAbcde);
  Rng a = Rng::for_stream(9, "generate"), b = Rng::for_stream(9, "generate"),
      c = Rng::for_stream(10, "generate");
  const std::string first = generator.generate("ab", 60, {2.0, 0}, a);
  CHECK(first == generator.generate("ab", 60, {2.0, 0}, b));
  CHECK(first != generator.generate("ab", 60, {2.0, 0}, c));
}

TEST_CASE("generate: bad prompts and options are ConfigErrors that say what is wrong") {
  Model model = table_model(4, 5);
  TextGenerator generator(model, kAbcde);
  Rng rng(1);
  CHECK(testing::message_of([&] {
          generator.generate("abz", 5, {1.0, 0}, rng);
        }) == "the prompt's character 'z' (position 3) is not in the model's vocabulary of 5 characters");
  CHECK_THROWS_AS(generator.generate("abz", 5, {1.0, 0}, rng), ConfigError);
  CHECK_THROWS_AS(generator.generate("", 5, {1.0, 0}, rng), ConfigError);
  CHECK(testing::contains(testing::message_of([&] {
                            generator.check("a", 5, {0.0, 0});
                          }),
                          "temperature must be a number > 0, got 0"));
  CHECK_THROWS_AS(generator.check("a", 5, {-1.0, 0}), ConfigError);
  CHECK(
      testing::contains(testing::message_of([&] {
                          generator.check("a", 5, {1.0, 6});
                        }),
                        "top-k must be between 0 (all characters) and the vocabulary's 5 characters, got 6"));
  CHECK_THROWS_AS(generator.check("a", -1, {1.0, 0}), ConfigError);

  Model wrong = table_model(4, 5);
  const Vocabulary three(std::vector<std::uint8_t>{'a', 'b', 'c'});
  CHECK(testing::contains(testing::message_of([&] { TextGenerator(wrong, three); }),
                          "this model outputs [4, 5]"));
}
