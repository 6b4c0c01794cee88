#include "train/checkpoint_categories.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/errors.hpp"
#include "train/checkpoint.hpp"

namespace dlrun {
namespace {

std::string names_of(const std::vector<CategoricalColumn>& columns) {
  std::string text;
  for (const auto& column : columns) text += (text.empty() ? "" : ", ") + column.name;
  return text.empty() ? "none" : text;
}

std::string missing_from(const std::vector<std::string>& these, const std::vector<std::string>& those) {
  std::string text;
  for (const auto& item : these) {
    if (std::find(those.begin(), those.end(), item) == those.end())
      text += (text.empty() ? "'" : ", '") + item + "'";
  }
  return text;
}

std::string difference(const std::vector<CategoricalColumn>& stored,
                       const std::vector<CategoricalColumn>& data) {
  std::vector<std::string> stored_names, data_names;
  for (const auto& column : stored) stored_names.push_back(column.name);
  for (const auto& column : data) data_names.push_back(column.name);
  if (stored_names != data_names) {
    return "it encodes the columns [" + names_of(stored) + "], the config [" + names_of(data) + "]";
  }
  for (std::size_t c = 0; c < stored.size(); ++c) {
    if (stored[c] == data[c]) continue;
    const std::string added = missing_from(data[c].categories, stored[c].categories);
    const std::string lacking = missing_from(stored[c].categories, data[c].categories);
    std::string text = "column '" + stored[c].name + "': ";
    if (added.empty() && lacking.empty()) return text + "the same categories in another order";
    if (!added.empty()) text += "the training rows add " + added;
    if (!lacking.empty()) text += std::string(added.empty() ? "" : "; ") + "they lack " + lacking;
    return text;
  }
  return "";
}

}  // namespace

std::string categories_to_json(const std::vector<CategoricalColumn>& categories) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& column : categories)
    list.push_back({{"column", column.name}, {"categories", column.categories}});
  return list.dump();
}

std::vector<CategoricalColumn> categories_from_json(const std::filesystem::path& path,
                                                    const std::string& text) {
  const auto bad = [&](const std::string& why) {
    return DataError(path.string() + ": malformed checkpoint metadata: categories " + why);
  };
  nlohmann::json list;
  try {
    list = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    throw bad("is not JSON");
  }
  if (!list.is_array()) throw bad("must be a list of {column, categories}");
  std::vector<CategoricalColumn> columns;
  for (const auto& item : list) {
    if (!item.is_object() || !item.contains("column") || !item["column"].is_string() ||
        !item.contains("categories") || !item["categories"].is_array()) {
      throw bad("holds " + item.dump() + ", not {\"column\": name, \"categories\": [names]}");
    }
    CategoricalColumn column{item["column"].get<std::string>(), {}};
    for (const auto& category : item["categories"]) {
      if (!category.is_string())
        throw bad("of column '" + column.name + "' holds " + category.dump() + ", not a string");
      column.categories.push_back(category.get<std::string>());
    }
    columns.push_back(std::move(column));
  }
  return columns;
}

void check_checkpoint_categories(const LoadedCheckpoint& checkpoint,
                                 const std::vector<CategoricalColumn>& train) {
  if (!checkpoint.has_dlrun_state || checkpoint.state.categories == train) return;
  throw DataError(checkpoint.path.string() +
                  ": the checkpoint's one-hot categories differ from those the config's training rows "
                  "give (" +
                  difference(checkpoint.state.categories, train) +
                  "); the model's inputs would mean other categories than in training");
}

}  // namespace dlrun
