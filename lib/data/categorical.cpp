#include "data/categorical.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string_view>
#include <unordered_map>

#include "core/errors.hpp"
#include "data/dataset.hpp"

namespace dlrun {
namespace {

bool parse_number(const std::string& text, double& value) {
  const char* begin = text.data();
  if (text.size() > 1 && text.front() == '+') ++begin;
  const auto [end, error] = std::from_chars(begin, text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size() && std::isfinite(value);
}

// Numerically when every category is a number (ties, such as "1" and "1.0", by text), else in
// byte order: the order numpy.unique, and so sklearn's OneHotEncoder, gives.
void sort_categories(std::vector<std::string>& categories) {
  std::vector<double> numbers(categories.size());
  for (std::size_t i = 0; i < categories.size(); ++i) {
    if (!parse_number(categories[i], numbers[i])) {
      std::sort(categories.begin(), categories.end());
      return;
    }
  }
  std::vector<std::size_t> order(categories.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return numbers[a] != numbers[b] ? numbers[a] < numbers[b] : categories[a] < categories[b];
  });
  std::vector<std::string> sorted;
  for (const std::size_t i : order) sorted.push_back(std::move(categories[i]));
  categories = std::move(sorted);
}

std::string listed(const std::vector<std::string>& names) {
  constexpr std::size_t kShown = 10;
  std::string text;
  for (std::size_t i = 0; i < names.size() && i < kShown; ++i) text += (i ? ", " : "") + names[i];
  if (names.size() > kShown) text += ", ... (" + std::to_string(names.size()) + " in all)";
  return text;
}

}  // namespace

std::vector<CategoricalColumn> fit_categories(const Dataset& raw, std::span<const Index> rows) {
  std::vector<CategoricalColumn> fitted;
  if (!raw.categorical_cells) return fitted;
  const Index features = raw.features_per_sample();
  for (const CategoricalCells::Column& column : raw.categorical_cells->columns) {
    std::vector<bool> seen(column.values.size(), false);
    for (const Index row : rows) {
      require(row >= 0 && row < raw.size(), "fit_categories: row out of range");
      seen[static_cast<std::size_t>(raw.floats[static_cast<std::size_t>(row * features + column.feature)])] =
          true;
    }
    CategoricalColumn learnt{column.name, {}};
    for (std::size_t v = 0; v < seen.size(); ++v) {
      if (seen[v]) learnt.categories.push_back(column.values[v]);
    }
    sort_categories(learnt.categories);
    fitted.push_back(std::move(learnt));
  }
  return fitted;
}

Dataset one_hot_encode(const Dataset& raw, const std::vector<CategoricalColumn>& categories,
                       bool ignore_unknown) {
  if (!raw.categorical_cells) return raw;
  const CategoricalCells& cells = *raw.categorical_cells;
  require(cells.columns.size() == categories.size(), "one_hot_encode: categories of other columns");
  const Index features = raw.features_per_sample();
  const Index rows = raw.size();

  // Per raw feature: the one-hot block it becomes (-1: a numeric feature, copied).
  std::vector<int> block_of(static_cast<std::size_t>(features), -1);
  // Per column: the position among its learnt categories of each value the file holds (-1: unknown).
  std::vector<std::vector<Index>> position(cells.columns.size());
  Index width = features;
  for (std::size_t c = 0; c < cells.columns.size(); ++c) {
    const CategoricalCells::Column& column = cells.columns[c];
    require(column.name == categories[c].name, "one_hot_encode: categories of another column");
    block_of[static_cast<std::size_t>(column.feature)] = static_cast<int>(c);
    const auto& learnt = categories[c].categories;
    std::unordered_map<std::string_view, Index> index_of;
    for (std::size_t i = 0; i < learnt.size(); ++i) index_of.emplace(learnt[i], static_cast<Index>(i));
    for (const std::string& value : column.values) {
      const auto at = index_of.find(value);
      position[c].push_back(at == index_of.end() ? -1 : at->second);
    }
    width += static_cast<Index>(learnt.size()) - 1;
  }

  Dataset encoded = raw;
  encoded.sample_shape = Shape{width};
  encoded.categories = categories;
  encoded.feature_names.clear();
  encoded.one_hot.assign(static_cast<std::size_t>(width), 0);
  Index out_feature = 0;
  for (Index f = 0; f < features; ++f) {
    const int block = block_of[static_cast<std::size_t>(f)];
    if (block < 0) {
      if (static_cast<std::size_t>(f) < raw.feature_names.size())
        encoded.feature_names.push_back(raw.feature_names[static_cast<std::size_t>(f)]);
      ++out_feature;
      continue;
    }
    for (const std::string& category : categories[static_cast<std::size_t>(block)].categories) {
      encoded.feature_names.push_back(categories[static_cast<std::size_t>(block)].name + "=" + category);
      encoded.one_hot[static_cast<std::size_t>(out_feature++)] = 1;
    }
  }

  encoded.floats.assign(static_cast<std::size_t>(rows * width), 0.0f);
  for (Index row = 0; row < rows; ++row) {
    const float* in = raw.floats.data() + row * features;
    float* out = encoded.floats.data() + row * width;
    for (Index f = 0; f < features; ++f) {
      const int block = block_of[static_cast<std::size_t>(f)];
      if (block < 0) {
        *out++ = in[f];
        continue;
      }
      const auto c = static_cast<std::size_t>(block);
      const auto value = static_cast<std::size_t>(in[f]);
      const Index at = position[c][value];
      if (at >= 0) {
        out[at] = 1.0f;
      } else if (!ignore_unknown) {
        const CategoricalCells::Column& column = cells.columns[c];
        const auto cell = static_cast<std::size_t>(row) * cells.columns.size() + c;
        throw DataError(
            Location{raw.source, cells.lines[static_cast<std::size_t>(row)], cells.char_columns[cell]},
            "field " + std::to_string(column.field) + " ('" + column.name + "'): category '" +
                column.values[value] +
                "' does not occur in the training rows (categories: " + listed(categories[c].categories) +
                "); data.handle_unknown: ignore encodes unknown categories as all zeros");
      }
      out += static_cast<std::ptrdiff_t>(categories[c].categories.size());
    }
  }
  return encoded;
}

}  // namespace dlrun
