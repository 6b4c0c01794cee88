#include "train/generate.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "core/errors.hpp"
#include "core/options.hpp"

namespace dlrun {

Index sample_token(std::span<const float> logits, const SamplingOptions& options, Rng& rng,
                   std::vector<double>& scratch) {
  const auto count = static_cast<Index>(logits.size());
  require(count > 0 && options.temperature > 0.0 && options.top_k >= 0 && options.top_k <= count,
          "sample_token: bad options");
  // The k-th largest logit is the threshold; among equal logits at it, the lower ids are kept.
  float threshold = -std::numeric_limits<float>::infinity();
  Index ties_allowed = count;  // how many logits equal to the threshold may stay
  if (options.top_k > 0 && options.top_k < count) {
    std::vector<float> sorted(logits.begin(), logits.end());
    std::nth_element(sorted.begin(), sorted.begin() + (options.top_k - 1), sorted.end(), std::greater<>());
    threshold = sorted[static_cast<std::size_t>(options.top_k - 1)];
    const auto above = std::count_if(logits.begin(), logits.end(), [&](float x) { return x > threshold; });
    ties_allowed = options.top_k - static_cast<Index>(above);
  }
  // p_i ∝ exp((x_i - max) / temperature) over the kept ids; computed in double.
  const double max = *std::max_element(logits.begin(), logits.end());
  scratch.assign(logits.size(), 0.0);
  double total = 0.0;
  for (Index i = 0; i < count; ++i) {
    const float x = logits[static_cast<std::size_t>(i)];
    if (x < threshold) continue;
    if (x == threshold && ties_allowed-- <= 0) continue;
    const double weight = std::exp((static_cast<double>(x) - max) / options.temperature);
    scratch[static_cast<std::size_t>(i)] = weight;
    total += weight;
  }
  // A tiny temperature can underflow every weight but the maximum's; the argmax is then the draw.
  if (!(total > 0.0) || !std::isfinite(total)) {
    return static_cast<Index>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  const double target = rng.uniform() * total;
  double cumulative = 0.0;
  Index last_kept = 0;
  for (Index i = 0; i < count; ++i) {
    const double weight = scratch[static_cast<std::size_t>(i)];
    if (weight <= 0.0) continue;
    cumulative += weight;
    last_kept = i;
    if (target < cumulative) return i;
  }
  return last_kept;  // rounding left target at the total
}

Model build_text_model(const Config& config) {
  if (config.data.train.format != "text") {
    throw ConfigError(config.data.train.where,
                      "text generation needs a character-level text config (data.train format: text), "
                      "this one reads " +
                          config.data.train.format + " data");
  }
  Rng init_rng = Rng::for_stream(config.seed, "init");
  return Model::build(config.layers, Shape{config.data.train.sequence_length}, make_builtin_layer_registry(),
                      init_rng);
}

TextGenerator::TextGenerator(Model& model, Vocabulary vocabulary)
    : model_(model), vocabulary_(std::move(vocabulary)) {
  const Shape input = model_.input_shape();
  const Shape output = model_.output_shape();
  require(input.rank() == 1 && input[0] >= 1, "TextGenerator: the model's input is not a token window");
  window_ = input[0];
  if (output.rank() != 2 || output[0] != window_ || output[1] != vocabulary_.size()) {
    throw ConfigError("text generation needs a model that outputs one distribution over the " +
                      std::to_string(vocabulary_.size()) + " characters per position, (" +
                      std::to_string(window_) + ", " + std::to_string(vocabulary_.size()) +
                      "); this model outputs " + output.to_string() +
                      " (use return_sequences: true and a last dense layer of " +
                      std::to_string(vocabulary_.size()) + " units)");
  }
  logits_depth_ = model_.final_activation() == "softmax" ? model_.size() - 1 : model_.size();
  input_.resize(Shape{1, window_});
}

void TextGenerator::check(std::string_view prompt, Index length, const SamplingOptions& options) const {
  if (!(options.temperature > 0.0) || !std::isfinite(options.temperature)) {
    throw ConfigError("temperature must be a number > 0, got " + format_number(options.temperature));
  }
  if (options.top_k < 0 || options.top_k > vocabulary_.size()) {
    throw ConfigError("top-k must be between 0 (all characters) and the vocabulary's " +
                      std::to_string(vocabulary_.size()) + " characters, got " +
                      std::to_string(options.top_k));
  }
  if (length < 0) throw ConfigError("length must be >= 0, got " + std::to_string(length));
  if (prompt.empty()) throw ConfigError("the prompt is empty: give at least one character to continue");
  if (const std::size_t at = vocabulary_.first_unknown(prompt); at != std::string_view::npos) {
    throw ConfigError("the prompt's character " + describe_character(static_cast<std::uint8_t>(prompt[at])) +
                      " (position " + std::to_string(at + 1) + ") is not in the model's vocabulary of " +
                      std::to_string(vocabulary_.size()) + " characters");
  }
}

std::string TextGenerator::generate(std::string_view prompt, Index length, const SamplingOptions& options,
                                    Rng& rng) {
  check(prompt, length, options);
  std::vector<std::int32_t> tokens = vocabulary_.encode(prompt);
  std::string text(prompt);
  const ForwardContext context{Mode::eval, nullptr};
  const Index classes = vocabulary_.size();
  for (Index step = 0; step < length; ++step) {
    // The last `window_` tokens, padded on the right with token 0 when fewer: a causal model's
    // output at position used - 1 does not see the padding.
    const Index used = std::min<Index>(window_, static_cast<Index>(tokens.size()));
    const auto first = tokens.end() - used;
    float* in = input_.data();
    for (Index t = 0; t < window_; ++t) in[t] = t < used ? static_cast<float>(first[t]) : 0.0f;
    const Tensor& output = model_.forward(input_, context, logits_depth_);
    const std::span<const float> logits(output.data() + (used - 1) * classes,
                                        static_cast<std::size_t>(classes));
    const Index next = sample_token(logits, options, rng, scratch_);
    tokens.push_back(static_cast<std::int32_t>(next));
    text += vocabulary_.character(next);
  }
  return text;
}

}  // namespace dlrun
