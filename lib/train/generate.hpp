// Text generation with a character language model: feed the text so far (at most the training
// window), take the next-character logits of the last position, sample with temperature and
// top-k from a seeded Rng, append, repeat. The model must be causal (a unidirectional RNN, or
// transformer blocks with causal: true): a prompt shorter than the window is padded on the right,
// which only a causal model ignores at the positions read.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/random.hpp"
#include "data/vocabulary.hpp"
#include "model/model.hpp"

namespace dlrun {

struct SamplingOptions {
  double temperature = 1.0;  // > 0; below 1 sharpens the distribution, above 1 flattens it
  Index top_k = 0;           // sample among the k most likely tokens only; 0 = all
};

// Draws a token id from softmax(logits / temperature), restricted to the top_k largest logits
// (ties broken towards the lower id) when top_k > 0: one uniform draw from `rng`, inverted through
// the cumulative distribution in id order. top_k = 1 is the argmax. `scratch` is reused storage.
// Precondition: temperature > 0, 0 <= top_k <= logits.size(), logits not empty.
// Reference: https://huggingface.co/blog/how-to-generate (temperature, top-k sampling).
Index sample_token(std::span<const float> logits, const SamplingOptions& options, Rng& rng,
                   std::vector<double>& scratch);

// Builds the model a text config describes for one window of sequence_length token ids, without
// reading the training data (the vocabulary and weights come from a checkpoint). Throws
// ConfigError when the config's training data is not text.
Model build_text_model(const Config& config);

class TextGenerator {
 public:
  // `model` (built for windows of T token ids) must output (T, vocabulary.size()) logits or
  // probabilities (a final softmax is skipped). Throws ConfigError otherwise.
  TextGenerator(Model& model, Vocabulary vocabulary);

  // Checks the sampling options against the vocabulary and the prompt's characters (ConfigError,
  // naming the first unknown character and its position). An empty prompt is an error too: the
  // model needs a character to condition on.
  void check(std::string_view prompt, Index length, const SamplingOptions& options) const;

  // The prompt followed by `length` sampled characters. Calls check() first.
  std::string generate(std::string_view prompt, Index length, const SamplingOptions& options, Rng& rng);

 private:
  Model& model_;
  Vocabulary vocabulary_;
  Index window_ = 0;
  Index logits_depth_ = -1;  // layers run to reach the logits (a final softmax is not run)
  Tensor input_;             // (1, T) token ids, reused from step to step
  std::vector<double> scratch_;
};

}  // namespace dlrun
