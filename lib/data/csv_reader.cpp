#include "data/csv_reader.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "core/errors.hpp"
#include "data/file_bytes.hpp"
#include "data/labels.hpp"

namespace dlrun {
namespace {

struct Field {
  std::string text;
  int column = 0;  // 1-based character column where the field starts
};

std::string_view trim(std::string_view text, char delimiter) {
  auto blank = [&](char c) { return c == ' ' || (c == '\t' && delimiter != '\t'); };
  while (!text.empty() && blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  return text;
}

bool parse_float(std::string_view text, float& value) {
  if (text.size() > 1 && text.front() == '+' && text[1] != '-' && text[1] != '+') text.remove_prefix(1);
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size() && std::isfinite(value);
}

// A cell that is no number at all (not NaN, infinity or out of float's range): text, perhaps a
// category.
bool is_text(std::string_view text) {
  if (text.size() > 1 && text.front() == '+') text.remove_prefix(1);
  float value = 0.0f;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc::invalid_argument || end != text.data() + text.size();
}

bool parse_integer(std::string_view text, std::int64_t& value) {
  if (text.size() > 1 && text.front() == '+' && text[1] != '-' && text[1] != '+') text.remove_prefix(1);
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

// Splits one line (no line end) into `fields`, reusing their storage; returns the field count.
Index split_fields(std::string_view line, char delimiter, const Location& where, std::vector<Field>& fields) {
  Index count = 0;
  std::size_t pos = 0;
  for (;;) {
    if (static_cast<std::size_t>(count) == fields.size()) fields.emplace_back();
    Field& field = fields[static_cast<std::size_t>(count++)];
    field.text.clear();
    const std::size_t start = pos;
    while (pos < line.size() && line[pos] == ' ') ++pos;
    if (pos < line.size() && line[pos] == '"') {
      const std::size_t quote = pos++;
      for (;;) {
        if (pos >= line.size()) {
          throw DataError(Location{where.file, where.line, static_cast<int>(quote + 1)},
                          "field " + std::to_string(count) + ": unterminated quoted field");
        }
        if (line[pos] == '"') {
          if (pos + 1 < line.size() && line[pos + 1] == '"') {
            field.text += '"';
            pos += 2;
            continue;
          }
          ++pos;
          break;
        }
        field.text += line[pos++];
      }
      while (pos < line.size() && line[pos] == ' ') ++pos;
      if (pos < line.size() && line[pos] != delimiter) {
        throw DataError(Location{where.file, where.line, static_cast<int>(pos + 1)},
                        "field " + std::to_string(count) + ": unexpected character after the closing quote");
      }
      field.column = static_cast<int>(quote + 1);
    } else {
      const std::size_t end = std::min(line.find(delimiter, start), line.size());
      field.text = trim(line.substr(start, end - start), delimiter);
      field.column = static_cast<int>(start + 1);
      pos = end;
    }
    if (pos >= line.size()) return count;
    ++pos;  // the delimiter; a trailing one leaves an empty last field
  }
}

// Iterates over the non-blank lines of a buffer with their 1-based numbers, CR LF or LF ended.
class Lines {
 public:
  explicit Lines(std::string_view text) : text_(text) {
    if (text_.starts_with("\xEF\xBB\xBF")) text_.remove_prefix(3);  // UTF-8 byte-order mark
  }
  bool next(std::string_view& line, int& number) {
    while (pos_ < text_.size()) {
      const std::size_t end = std::min(text_.find('\n', pos_), text_.size());
      line = text_.substr(pos_, end - pos_);
      pos_ = end + 1;
      number = ++line_;
      if (line.ends_with('\r')) line.remove_suffix(1);
      if (line.find_first_not_of(" \t") != std::string_view::npos) return true;
    }
    return false;
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
  int line_ = 0;
};

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

Index column_index(const DataSource& source, const std::vector<std::string>& names, const std::string& name,
                   std::string_view what) {
  const auto at = std::find(names.begin(), names.end(), name);
  if (at != names.end()) return at - names.begin();
  throw ConfigError(source.where, std::string(what) + " '" + name + "' is not a column of " +
                                      source.path.string() + did_you_mean(name, names) +
                                      "; columns: " + joined(names));
}

// Class indices over the sorted distinct labels: numerically when every label is an integer.
ClassLabels classes_of(const std::vector<std::string>& raw) {
  std::vector<std::int64_t> integers(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (!parse_integer(raw[i], integers[i])) return string_classes(raw);
  }
  return integer_classes(integers);
}

// More distinct categories than this cannot be held exactly as float codes (2^24).
constexpr std::size_t kMaxCategories = std::size_t{1} << 24;

// `auto`: the positions among `features` of the columns with a non-empty cell that is not a
// number. Ragged rows and bad quotes are left to the reading pass, which names them.
std::vector<Index> detect_categorical(std::string_view text, const DataSource& source,
                                      const std::vector<Index>& features, Index field_count) {
  Lines lines(text);
  std::vector<Field> fields;
  std::vector<bool> flagged(features.size(), false);
  std::string_view line;
  int number = 0;
  if (source.header) lines.next(line, number);
  while (lines.next(line, number)) {
    try {
      if (split_fields(line, source.delimiter, Location{}, fields) != field_count) continue;
    } catch (const DataError&) {
      continue;
    }
    for (std::size_t k = 0; k < features.size(); ++k) {
      const std::string& cell = fields[static_cast<std::size_t>(features[k])].text;
      float value = 0.0f;
      if (!flagged[k] && !cell.empty() && !parse_float(cell, value)) flagged[k] = true;
    }
  }
  std::vector<Index> positions;
  for (std::size_t k = 0; k < flagged.size(); ++k) {
    if (flagged[k]) positions.push_back(static_cast<Index>(k));
  }
  return positions;
}

// The positions among `features` of the columns data.categorical lists, in its order.
std::vector<Index> listed_categorical(const DataSource& source, const CategoricalSpec& spec,
                                      const std::vector<std::string>& names, Index label,
                                      const std::vector<Index>& features) {
  const std::string file = source.path.string();
  std::vector<Index> positions;
  for (const CategoricalSpec::Column& column : spec.columns) {
    Index index = column.index;
    if (index >= static_cast<Index>(names.size())) {
      throw ConfigError(spec.where, "data.categorical: column number " + std::to_string(index) +
                                        " is out of range: " + file + " has " + std::to_string(names.size()) +
                                        " columns, numbered from 0");
    }
    if (index < 0) {
      const auto at = std::find(names.begin(), names.end(), column.name);
      if (at == names.end()) {
        throw ConfigError(spec.where, "data.categorical: '" + column.name + "' is not a column of " + file +
                                          did_you_mean(column.name, names) + "; columns: " + joined(names));
      }
      index = at - names.begin();
    }
    const std::string& name = names[static_cast<std::size_t>(index)];
    if (index == label) {
      throw ConfigError(spec.where, "data.categorical: column '" + name +
                                        "' is the label; data.categorical lists feature columns (a "
                                        "classification loss makes the label's values classes already)");
    }
    const auto at = std::find(features.begin(), features.end(), index);
    if (at == features.end()) {
      throw ConfigError(spec.where, "data.categorical: column '" + name +
                                        "' is not one of the features read (data.train.features)");
    }
    const Index position = at - features.begin();
    if (std::find(positions.begin(), positions.end(), position) != positions.end()) {
      throw ConfigError(spec.where, "data.categorical: column '" + name + "' is listed twice");
    }
    positions.push_back(position);
  }
  return positions;
}

}  // namespace

Dataset read_csv(const DataSource& source, LabelKind label_kind, const CategoricalSpec& categorical) {
  const std::string file = source.path.string();
  const FileBytes contents = read_file_bytes(source.path, "CSV file");
  const std::string_view text(reinterpret_cast<const char*>(contents.bytes.data()), contents.bytes.size());
  Lines lines(text);
  std::vector<Field> fields;
  std::string_view line;
  int line_number = 0;

  if (!lines.next(line, line_number)) throw DataError(Location{file}, "CSV file is empty");
  const Index field_count = split_fields(line, source.delimiter, Location{file, line_number}, fields);
  std::vector<std::string> names;
  std::unordered_set<std::string_view> seen;  // a header of a million columns must not be quadratic
  for (Index f = 0; f < field_count; ++f) {
    const Field& field = fields[static_cast<std::size_t>(f)];
    if (!source.header) {
      names.push_back("col" + std::to_string(f));
    } else if (!seen.insert(field.text).second) {
      throw DataError(Location{file, line_number, field.column},
                      "field " + std::to_string(f + 1) + ": duplicate column name '" + field.text + "'");
    } else {
      names.push_back(field.text);
    }
  }
  const int first_line = line_number;

  Index label = -1;
  if (label_kind != LabelKind::none) {
    label = source.label_column.empty() ? field_count - 1
                                        : column_index(source, names, source.label_column, "label");
  }
  std::vector<Index> features;
  for (const auto& name : source.features) {
    const Index index = column_index(source, names, name, "feature");
    if (index == label)
      throw ConfigError(source.where, "column '" + name + "' is both the label and a feature");
    if (std::find(features.begin(), features.end(), index) != features.end()) {
      throw ConfigError(source.where, "feature '" + name + "' is listed twice");
    }
    features.push_back(index);
  }
  if (source.features.empty()) {
    for (Index f = 0; f < field_count; ++f) {
      if (f != label) features.push_back(f);
    }
  }
  if (features.empty()) {
    throw DataError(Location{file, line_number}, "CSV file has no feature columns (only the label '" +
                                                     names[static_cast<std::size_t>(label)] + "')");
  }

  Dataset dataset;
  dataset.source = file;
  dataset.sample_shape = Shape{static_cast<Index>(features.size())};
  for (const Index f : features) dataset.feature_names.push_back(names[static_cast<std::size_t>(f)]);
  std::vector<std::string> raw_labels;

  // Per feature position: its categorical column, or -1 for a numeric feature.
  std::vector<int> category_of(features.size(), -1);
  std::shared_ptr<CategoricalCells> cells;
  std::vector<std::unordered_map<std::string, std::size_t>> codes;
  if (!categorical.empty()) {
    const std::vector<Index> positions =
        categorical.detect ? detect_categorical(text, source, features, field_count)
                           : listed_categorical(source, categorical, names, label, features);
    if (!positions.empty()) {
      cells = std::make_shared<CategoricalCells>();
      cells->features = dataset.feature_names;
      for (const Index position : positions) {
        const Index f = features[static_cast<std::size_t>(position)];
        category_of[static_cast<std::size_t>(position)] = static_cast<int>(cells->columns.size());
        cells->columns.push_back({names[static_cast<std::size_t>(f)], position, f + 1, {}});
      }
      codes.resize(cells->columns.size());
    }
  }

  auto cell_error = [&](const Field& field, Index f, const std::string& problem) {
    return DataError(
        Location{file, line_number, field.column},
        "field " + std::to_string(f + 1) + " ('" + names[static_cast<std::size_t>(f)] + "'): " + problem);
  };
  auto read_row = [&]() {
    const Index count = split_fields(line, source.delimiter, Location{file, line_number}, fields);
    if (count != field_count) {
      const std::string expected = "expected " + std::to_string(field_count) + " as in the " +
                                   (source.header ? "header" : "first row") + " (line " +
                                   std::to_string(first_line) + ")";
      const int column = count > field_count ? fields[static_cast<std::size_t>(field_count)].column
                                             : static_cast<int>(line.size() + 1);
      throw DataError(Location{file, line_number, column},
                      "ragged row: " + std::to_string(count) + " fields, " + expected);
    }
    for (std::size_t k = 0; k < features.size(); ++k) {
      const Index f = features[k];
      const Field& field = fields[static_cast<std::size_t>(f)];
      if (const int c = category_of[k]; c >= 0) {
        if (field.text.empty()) throw cell_error(field, f, "empty category");
        CategoricalCells::Column& column = cells->columns[static_cast<std::size_t>(c)];
        const auto [at, added] =
            codes[static_cast<std::size_t>(c)].try_emplace(field.text, column.values.size());
        if (added) {
          if (column.values.size() == kMaxCategories)
            throw cell_error(field, f, "more than " + std::to_string(kMaxCategories) + " categories");
          column.values.push_back(field.text);
        }
        dataset.floats.push_back(static_cast<float>(at->second));
        cells->char_columns.push_back(field.column);
        continue;
      }
      float value = 0.0f;
      if (!parse_float(field.text, value)) {
        const bool hint =
            source.format == "csv" && !field.text.empty() && is_text(field.text) && categorical.empty();
        throw cell_error(field, f,
                         "expected a number, got '" + field.text + "'" +
                             (hint ? " (to one-hot encode the column, list it in data.categorical)" : ""));
      }
      dataset.floats.push_back(value);
    }
    if (cells) cells->lines.push_back(line_number);
    if (label < 0) return;
    const Field& field = fields[static_cast<std::size_t>(label)];
    if (label_kind == LabelKind::targets) {
      float value = 0.0f;
      if (!parse_float(field.text, value)) {
        throw cell_error(field, label, "expected a numeric regression target, got '" + field.text + "'");
      }
      dataset.targets.push_back(value);
    } else {
      if (field.text.empty()) throw cell_error(field, label, "empty label");
      raw_labels.push_back(field.text);
    }
  };
  if (!source.header) read_row();
  while (lines.next(line, line_number)) read_row();

  const Index rows = static_cast<Index>(dataset.floats.size() / features.size());
  if (rows == 0) throw DataError(Location{file}, "CSV file has a header but no data rows");
  if (label_kind == LabelKind::targets) dataset.target_shape = Shape{1};
  dataset.categorical_cells = std::move(cells);
  if (label_kind == LabelKind::classes) {
    ClassLabels classes = classes_of(raw_labels);
    dataset.labels = std::move(classes.labels);
    dataset.class_names = std::move(classes.names);
  }
  return dataset;
}

}  // namespace dlrun
