// Character-level next-token data from a plain text file: the vocabulary is the set of distinct
// bytes, inputs are windows of T token ids and each position's label is the following character.
#pragma once

#include <filesystem>

#include "data/dataset.hpp"

namespace dlrun {

// Reads `path` (gzip detected by magic) and cuts it into non-overlapping windows (stride T):
// example i has inputs text[i*T, i*T+T) as token ids (Dataset::bytes, sample_shape {T}) and labels
// text[i*T+1, i*T+T+1) (labels_per_sample = T). class_names are the distinct bytes, sorted, each
// as a one-character string; token id = class index. The trailing characters that do not fill a
// window are dropped.
// Throws DataError naming the file when it holds fewer than T + 1 bytes; ConfigError when T < 1.
Dataset read_text(const std::filesystem::path& path, Index sequence_length);

}  // namespace dlrun
