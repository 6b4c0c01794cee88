#include "data/npy_reader.hpp"

#include <bit>
#include <cmath>
#include <cstring>
#include <string_view>

#include "core/errors.hpp"
#include "core/options.hpp"
#include "data/array_bytes.hpp"
#include "data/file_bytes.hpp"

namespace dlrun {

static_assert(std::endian::native == std::endian::little, "the NPY reader copies little-endian data as is");

namespace {

constexpr std::size_t kMaxNpyHeaderBytes = 65536;  // messages say "64 KiB"

Index item_size(std::string_view dtype) {
  if (dtype == "|u1") return 1;
  if (dtype == "<i4" || dtype == "<f4") return 4;
  if (dtype == "<i8" || dtype == "<f8") return 8;
  return 0;
}

constexpr double kExactLabelLimit = 9007199254740992.0;  // 2^53: every integer below it is a double

bool is_integer(std::string_view dtype) {
  return dtype == "|u1" || dtype == "<i4" || dtype == "<i8";
}

std::string shape_text(const std::vector<Index>& shape) {
  std::string text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + (shape.size() == 1 ? ",)" : ")");
}

// A strict reader of the header dictionary numpy writes:
//   {'descr': '<f4', 'fortran_order': False, 'shape': (150, 4), }
class HeaderParser {
 public:
  HeaderParser(std::string_view text, std::size_t base, const std::string& file, const std::string& role)
      : text_(text), base_(base), file_(file), role_(role) {}

  NpyArray parse() {
    NpyArray array;
    bool has_descr = false, has_order = false, has_shape = false;
    expect('{');
    for (;;) {
      skip_spaces();
      if (peek() == '}') break;
      const std::size_t key_at = pos_;
      const std::string key = quoted();
      expect(':');
      if (key == "descr" && !has_descr) {
        array.dtype = quoted();
        has_descr = true;
      } else if (key == "fortran_order" && !has_order) {
        skip_spaces();
        const std::size_t value_at = pos_;
        if (word("True")) {
          fail_at(value_at,
                  "fortran_order arrays are not supported; save a C-ordered array "
                  "(numpy.ascontiguousarray)");
        }
        if (!word("False")) fail_at(value_at, "malformed header: expected True or False for 'fortran_order'");
        has_order = true;
      } else if (key == "shape" && !has_shape) {
        array.shape = tuple();
        has_shape = true;
      } else {
        fail_at(key_at, "unexpected or repeated header key '" + key + "'");
      }
      skip_spaces();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != '}') {
        fail_at(pos_, "expected ',' or '}' in the header");
      }
    }
    ++pos_;
    if (!has_descr || !has_order || !has_shape)
      fail_at(pos_, "the header lacks 'descr', 'fortran_order' or 'shape'");
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n')) ++pos_;
    if (pos_ != text_.size()) fail_at(pos_, "unexpected text after the header dictionary");
    return array;
  }

 private:
  [[noreturn]] void fail_at(std::size_t pos, const std::string& message) const {
    throw DataError(Location{file_},
                    role_ + ": " + message + " (byte offset " + std::to_string(base_ + pos) + ")");
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_spaces() {
    while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
  }
  void expect(char c) {
    skip_spaces();
    if (peek() != c) fail_at(pos_, std::string("malformed header: expected '") + c + "'");
    ++pos_;
  }
  bool word(std::string_view w) {
    skip_spaces();
    if (!text_.substr(pos_).starts_with(w)) return false;
    pos_ += w.size();
    return true;
  }
  std::string quoted() {
    skip_spaces();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail_at(pos_, "malformed header: expected a quoted string");
    const std::size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) fail_at(pos_, "malformed header: unterminated string");
    std::string value(text_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return value;
  }
  std::vector<Index> tuple() {
    expect('(');
    std::vector<Index> dims;
    for (;;) {
      skip_spaces();
      if (peek() == ')') break;
      const std::size_t start = pos_;
      Index dim = 0;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
        dim = dim * 10 + (text_[pos_++] - '0');
        if (dim > (Index{1} << 48)) fail_at(start, "malformed header: dimension too large");
      }
      if (pos_ == start) fail_at(pos_, "malformed header: expected a dimension in 'shape'");
      dims.push_back(dim);
      skip_spaces();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != ')') {
        fail_at(pos_, "malformed header: expected ',' or ')' in 'shape'");
      }
    }
    ++pos_;
    return dims;
  }

  std::string_view text_;
  std::size_t base_;
  std::size_t pos_ = 0;
  const std::string& file_;
  const std::string& role_;
};

std::uint32_t little_endian(const std::uint8_t* p, int bytes) {
  std::uint32_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = value << 8 | p[i];
  return value;
}

// Calls visit(i, value) for every element, converted to double; the dtype is dispatched once.
template <typename Visit>
void for_each_value(const NpyArray& array, Visit visit) {
  auto loop = [&]<typename T>(T) {
    const std::uint8_t* p = array.bytes.data();
    for (Index i = 0; i < array.element_count(); ++i, p += sizeof(T)) {
      T value;
      std::memcpy(&value, p, sizeof(T));
      visit(i, static_cast<double>(value));
    }
  };
  if (array.dtype == "|u1") loop(std::uint8_t{});
  if (array.dtype == "<i4") loop(std::int32_t{});
  if (array.dtype == "<i8") loop(std::int64_t{});
  if (array.dtype == "<f4") loop(float{});
  if (array.dtype == "<f8") loop(double{});
}

// Converts to float32, rejecting NaN, infinities and values beyond float range.
std::vector<float> finite_floats(const NpyArray& array, const std::string& file, const std::string& role,
                                 Index per_example) {
  std::vector<float> values(static_cast<std::size_t>(array.element_count()));
  for_each_value(array, [&](Index i, double value) {
    if (!std::isfinite(value) || std::abs(value) > 3.4e38) {
      throw DataError(Location{file}, role + ": element " + std::to_string(i) + " (example " +
                                          std::to_string(i / per_example) +
                                          ") is not a finite float32 value");
    }
    values[static_cast<std::size_t>(i)] = static_cast<float>(value);
  });
  return values;
}

}  // namespace

Index NpyArray::element_count() const {
  Index count = 1;
  for (const Index d : shape) count *= d;
  return count;
}

NpyArray read_npy_array(const std::filesystem::path& path, std::string_view role_view) {
  const std::string file = path.string();
  const std::string role(role_view);
  const FileBytes contents = read_file_bytes(path, role);
  const std::vector<std::uint8_t>& bytes = contents.bytes;
  auto fail = [&](const std::string& message) { return DataError(Location{file}, role + ": " + message); };

  static constexpr std::uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (bytes.size() < 10 || std::memcmp(bytes.data(), kMagic, 6) != 0) {
    throw fail("not an NPY file (expected the magic string \\x93NUMPY at byte offset 0)");
  }
  const int major = bytes[6];
  if (major < 1 || major > 3) throw fail("unsupported NPY format version " + std::to_string(major));
  const int length_bytes = major == 1 ? 2 : 4;
  const std::size_t header_start = 8 + static_cast<std::size_t>(length_bytes);
  if (bytes.size() < header_start) throw fail("truncated NPY header");
  const std::size_t header_length = little_endian(bytes.data() + 8, length_bytes);
  // numpy writes a few hundred bytes (and reads at most 10000 by default); versions 2 and 3 could
  // claim 4 GiB of dictionary.
  if (header_length > kMaxNpyHeaderBytes) {
    throw fail("header length " + std::to_string(header_length) + " is over the 64 KiB limit");
  }
  if (bytes.size() < header_start + header_length) {
    throw fail("truncated header: it claims " + std::to_string(header_length) + " bytes from byte offset " +
               std::to_string(header_start) + ", the file ends at byte offset " +
               std::to_string(bytes.size()));
  }
  const std::string_view header(reinterpret_cast<const char*>(bytes.data()) + header_start, header_length);
  NpyArray array = HeaderParser(header, header_start, file, role).parse();

  const Index size = item_size(array.dtype);
  if (size == 0) {
    throw fail("unsupported dtype '" + array.dtype +
               "'; supported: '<f4', '<f8', '|u1', '<i4', '<i8' (little-endian)");
  }
  if (array.shape.empty()) throw fail("a 0-dimensional array; expected (N, ...) with one row per example");
  if (array.shape.size() > static_cast<std::size_t>(Shape::kMaxRank)) {
    // A batch of its rows has the file's rank, and a Shape holds at most kMaxRank dimensions.
    throw fail("shape " + shape_text(array.shape) + " has " + std::to_string(array.shape.size()) +
               " dimensions; dlrun supports at most " + std::to_string(Shape::kMaxRank));
  }
  if (array.shape[0] == 0) throw fail("contains no examples (shape " + shape_text(array.shape) + ")");
  for (std::size_t d = 1; d < array.shape.size(); ++d) {
    if (array.shape[d] == 0) throw fail("shape " + shape_text(array.shape) + " has an empty dimension");
  }
  const std::size_t data_start = header_start + header_length;
  const std::size_t available = bytes.size() - data_start;
  // Dimensions up to 2^48 each: their product is checked, never allowed to wrap around.
  const std::optional<std::uint64_t> claimed = array_bytes(array.shape, static_cast<std::uint64_t>(size));
  if (!claimed || *claimed > available) {
    throw fail("truncated data: shape " + shape_text(array.shape) + " of '" + array.dtype + "' needs " +
               (claimed ? std::to_string(*claimed) : std::string("more than 2^63")) +
               " bytes from byte offset " + std::to_string(data_start) +
               ", but the file ends at byte offset " + std::to_string(bytes.size()));
  }
  const auto needed = static_cast<std::size_t>(*claimed);
  if (needed < available) {
    throw fail(std::to_string(available - needed) + " unexpected bytes after the data at byte offset " +
               std::to_string(data_start + needed));
  }
  array.bytes.assign(bytes.begin() + static_cast<std::ptrdiff_t>(data_start), bytes.end());
  return array;
}

Dataset read_npy(const std::filesystem::path& inputs, const std::filesystem::path& labels, LabelKind kind) {
  NpyArray input_array = read_npy_array(inputs, "NPY inputs file");
  Dataset dataset;
  dataset.source = inputs.string();
  const std::vector<Index>& shape = input_array.shape;
  dataset.sample_shape =
      shape.size() == 1 ? Shape{1} : Shape(std::vector<Index>(shape.begin() + 1, shape.end()));
  if (input_array.dtype == "|u1") {
    dataset.bytes = std::move(input_array.bytes);
  } else {
    dataset.floats =
        finite_floats(input_array, inputs.string(), "NPY inputs file", dataset.features_per_sample());
  }
  if (labels.empty() || kind == LabelKind::none) return dataset;

  const NpyArray label_array = read_npy_array(labels, "NPY labels file");
  if (label_array.shape[0] != shape[0]) {
    throw DataError("example count mismatch: inputs file " + inputs.string() + " has " +
                    std::to_string(shape[0]) + " examples, labels file " + labels.string() + " has " +
                    std::to_string(label_array.shape[0]));
  }
  dataset.source += " + " + labels.string();
  const std::vector<Index> rest(label_array.shape.begin() + 1, label_array.shape.end());
  const Index per_example = Shape(rest).element_count();
  if (kind == LabelKind::targets) {
    dataset.target_shape = rest.empty() ? Shape{1} : Shape(rest);
    dataset.targets = finite_floats(label_array, labels.string(), "NPY labels file", per_example);
    return dataset;
  }
  std::vector<std::int64_t> values(static_cast<std::size_t>(label_array.element_count()));
  for_each_value(label_array, [&](Index i, double value) {
    if (!is_integer(label_array.dtype) && (value != std::floor(value) || std::abs(value) > 2e9)) {
      throw DataError(Location{labels.string()},
                      "NPY labels file: element " + std::to_string(i) + " is " + format_number(value) +
                          ", but class labels must be integers (the task is classification)");
    }
    // Integer labels arrive as doubles, exact only below 2^53 (2^53 + 1 reads as 2^53, so two
    // labels could become one class), and an int64 near 2^63 becomes 2^63, which does not convert
    // back (found by fuzz_npy).
    if (std::abs(value) >= kExactLabelLimit) {
      throw DataError(Location{labels.string()},
                      "NPY labels file: element " + std::to_string(i) + " is " + format_number(value) +
                          ", beyond the class labels dlrun reads (integers below 2^53 in magnitude)");
    }
    values[static_cast<std::size_t>(i)] = static_cast<std::int64_t>(value);
  });
  ClassLabels classes = integer_classes(values);
  dataset.labels = std::move(classes.labels);
  dataset.class_names = std::move(classes.names);
  dataset.labels_per_sample = per_example;
  return dataset;
}

}  // namespace dlrun
