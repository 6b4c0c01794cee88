#include "data/text_reader.hpp"

#include <array>

#include "core/errors.hpp"
#include "data/file_bytes.hpp"

namespace dlrun {

Dataset read_text(const std::filesystem::path& path, Index sequence_length) {
  if (sequence_length < 1) {
    throw ConfigError("text data " + path.string() + ": sequence_length must be >= 1, got " +
                      std::to_string(sequence_length));
  }
  const std::vector<std::uint8_t> text = read_file_bytes(path, "text file").bytes;
  const Index length = static_cast<Index>(text.size());
  if (length < sequence_length + 1) {
    throw DataError(Location{path.string()}, "text file has " + std::to_string(length) +
                                                 " bytes; sequence_length " +
                                                 std::to_string(sequence_length) + " needs at least " +
                                                 std::to_string(sequence_length + 1));
  }

  // Vocabulary: the distinct bytes in sorted order; token_of maps a byte to its class index.
  std::array<bool, 256> present{};
  for (const std::uint8_t c : text) present[c] = true;
  std::array<std::uint8_t, 256> token_of{};
  Dataset dataset;
  for (int c = 0; c < 256; ++c) {
    if (!present[static_cast<std::size_t>(c)]) continue;
    token_of[static_cast<std::size_t>(c)] = static_cast<std::uint8_t>(dataset.class_names.size());
    dataset.class_names.emplace_back(1, static_cast<char>(c));
  }

  const Index count = (length - 1) / sequence_length;
  dataset.source = path.string();
  dataset.sample_shape = Shape{sequence_length};
  dataset.labels_per_sample = sequence_length;
  dataset.token_ids = true;
  dataset.bytes.resize(static_cast<std::size_t>(count * sequence_length));
  dataset.labels.resize(dataset.bytes.size());
  for (std::size_t i = 0; i < dataset.bytes.size(); ++i) {
    dataset.bytes[i] = token_of[text[i]];
    dataset.labels[i] = token_of[text[i + 1]];
  }
  return dataset;
}

}  // namespace dlrun
