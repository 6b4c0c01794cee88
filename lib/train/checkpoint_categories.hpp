// The categories of data.categorical in checkpoints: the metadata key `categories` holds
// [{"column": "color", "categories": ["blue", "red"]}, ...] (JSON text), so that eval, predict,
// resume and --weights can check that the config's training rows give the encoding the model was
// trained with (like the vocabulary of text data).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "data/categorical.hpp"

namespace dlrun {

struct LoadedCheckpoint;

std::string categories_to_json(const std::vector<CategoricalColumn>& categories);
// DataError "file: malformed checkpoint metadata: categories ..." for anything but the above.
std::vector<CategoricalColumn> categories_from_json(const std::filesystem::path& path,
                                                    const std::string& text);

// DataError naming the first difference when the checkpoint's categories are not `train` (the
// categories learnt from the config's training rows now), including one side having none. A
// checkpoint of plain weights is not checked.
void check_checkpoint_categories(const LoadedCheckpoint& checkpoint,
                                 const std::vector<CategoricalColumn>& train);

}  // namespace dlrun
