#include "data/vocabulary.hpp"

#include <cmath>
#include <cstdio>

#include "core/errors.hpp"

namespace dlrun {

std::array<std::int32_t, 256> Vocabulary::filled_absent() {
  std::array<std::int32_t, 256> ids{};
  ids.fill(-1);
  return ids;
}

Vocabulary::Vocabulary(std::vector<std::uint8_t> bytes) : bytes_(std::move(bytes)) {
  for (std::size_t i = 0; i < bytes_.size(); ++i) {
    require(id_of_[bytes_[i]] < 0, "Vocabulary: a character occurs twice");
    id_of_[bytes_[i]] = static_cast<std::int32_t>(i);
  }
}

std::optional<Vocabulary> Vocabulary::of(const Dataset& dataset) {
  if (!dataset.token_ids) return std::nullopt;
  std::vector<std::uint8_t> bytes;
  for (const std::string& name : dataset.class_names) {
    require(name.size() == 1, "Vocabulary::of: a text class name is not one byte");
    bytes.push_back(static_cast<std::uint8_t>(name[0]));
  }
  return Vocabulary(std::move(bytes));
}

std::size_t Vocabulary::first_unknown(std::string_view text) const {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!contains(static_cast<std::uint8_t>(text[i]))) return i;
  }
  return std::string_view::npos;
}

std::vector<std::int32_t> Vocabulary::encode(std::string_view text) const {
  std::vector<std::int32_t> ids(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    ids[i] = id(static_cast<std::uint8_t>(text[i]));
    require(ids[i] >= 0, "Vocabulary::encode: a character outside the vocabulary");
  }
  return ids;
}

std::string describe_character(std::uint8_t c) {
  switch (c) {
    case '\n':
      return "'\\n'";
    case '\t':
      return "'\\t'";
    case '\r':
      return "'\\r'";
    default:
      break;
  }
  if (c >= 0x20 && c < 0x7f) return "'" + std::string(1, static_cast<char>(c)) + "'";
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned>(c));
  return std::string("byte ") + hex;
}

double unigram_entropy_bits(const Dataset& dataset, std::span<const Index> rows) {
  std::vector<std::int64_t> counts(dataset.class_names.size(), 0);
  const auto per_sample = static_cast<std::size_t>(dataset.labels_per_sample);
  std::int64_t total = 0;
  for (const Index row : rows) {
    require(row >= 0 && row < dataset.size(), "unigram_entropy_bits: row out of range");
    const std::size_t first = static_cast<std::size_t>(row) * per_sample;
    for (std::size_t i = first; i < first + per_sample; ++i) {
      ++counts[static_cast<std::size_t>(dataset.labels[i])];
      ++total;
    }
  }
  double bits = 0.0;
  for (const std::int64_t count : counts) {
    if (count == 0) continue;
    const double p = static_cast<double>(count) / static_cast<double>(total);
    bits -= p * std::log2(p);
  }
  return bits;
}

}  // namespace dlrun
