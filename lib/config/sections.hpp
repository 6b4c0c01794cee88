// Internal to lib/config: the parsers of the config's sections, shared by parse_config.cpp,
// parse_data.cpp and parse_train.cpp.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/options.hpp"

namespace dlrun::detail {

// Throws for the first key of `node` (a mapping or null) not in `known`, with a did-you-mean.
// Called before any typed read, so that a misspelt key is reported rather than "x is required".
void check_keys(const Node& node, const std::string& context, const std::vector<std::string>& known);

// A null Node, for sections that are absent.
const Node& empty_node();

// `data:`. Paths are resolved against `base_dir` and written back into `node` as absolute paths,
// so that the resolved tree reads the same files from anywhere.
DataConfig parse_data(Node& node, const std::filesystem::path& base_dir);

TrainConfig parse_train(const Node& node);
CvConfig parse_cv(const Node& node);
SearchConfig parse_search(const Node& node);
PruneConfig parse_prune(const Node& node);

}  // namespace dlrun::detail
