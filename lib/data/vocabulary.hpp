// The character vocabulary of text data (a byte-level tokenizer): the distinct bytes of the
// training text, sorted, token id = position. It travels in checkpoints so that generation and
// evaluation map characters exactly as training did. There is no unknown-character token: a
// character outside the vocabulary is an error, never silently mapped.
#pragma once

#include <array>
#include <cstdint>
#include <numbers>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "data/dataset.hpp"

namespace dlrun {

class Vocabulary {
 public:
  Vocabulary() = default;
  // `bytes`: the characters in token-id order; each at most once (InternalError otherwise).
  explicit Vocabulary(std::vector<std::uint8_t> bytes);

  // The vocabulary of text data (Dataset::token_ids): its class names, one byte each; nullopt for
  // other data.
  static std::optional<Vocabulary> of(const Dataset& dataset);

  Index size() const { return static_cast<Index>(bytes_.size()); }
  bool empty() const { return bytes_.empty(); }
  const std::vector<std::uint8_t>& bytes() const { return bytes_; }
  bool contains(std::uint8_t c) const { return id_of_[c] >= 0; }
  std::int32_t id(std::uint8_t c) const { return id_of_[c]; }  // -1 when absent
  char character(Index id) const { return static_cast<char>(bytes_[static_cast<std::size_t>(id)]); }

  // The position of the first character of `text` outside the vocabulary, or npos. Callers
  // check it first and word the error for their context (a prompt, a data file).
  std::size_t first_unknown(std::string_view text) const;
  // Token ids of `text`. Precondition: first_unknown(text) == npos (InternalError otherwise).
  std::vector<std::int32_t> encode(std::string_view text) const;

  bool operator==(const Vocabulary& other) const { return bytes_ == other.bytes_; }

 private:
  std::vector<std::uint8_t> bytes_;
  std::array<std::int32_t, 256> id_of_ = filled_absent();
  static std::array<std::int32_t, 256> filled_absent();
};

// A character for messages: 'a', '\n', ' ', or 0xc3 for bytes outside printable ASCII.
std::string describe_character(std::uint8_t c);

// The entropy, in bits per character, of the next-character labels of `rows` of text data: the
// cross-entropy a model that ignores context (predicting the character frequencies) reaches on
// them, the baseline a language model must beat. 0 for no rows.
double unigram_entropy_bits(const Dataset& dataset, std::span<const Index> rows);

// A cross-entropy in nats (dlrun's losses) as bits: nats / ln 2; per character for text data.
inline double nats_to_bits(double nats) {
  return nats / std::numbers::ln2;
}

}  // namespace dlrun
