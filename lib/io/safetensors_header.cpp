#include "io/safetensors_header.hpp"

#include <algorithm>
#include <limits>

#include "core/errors.hpp"
#include "core/tensor.hpp"
#include "io/json_cursor.hpp"

namespace dlrun {

static_assert(kMaxSafetensorsRank == static_cast<std::size_t>(Shape::kMaxRank));

namespace fs = std::filesystem;

namespace {

struct DtypeInfo {
  std::string_view name;
  SafetensorsDtype dtype;
  std::uint64_t bytes;
};

constexpr DtypeInfo kDtypes[] = {{"F32", SafetensorsDtype::f32, 4},   {"F16", SafetensorsDtype::f16, 2},
                                 {"BF16", SafetensorsDtype::bf16, 2}, {"F64", SafetensorsDtype::f64, 8},
                                 {"I8", SafetensorsDtype::i8, 1},     {"U8", SafetensorsDtype::u8, 1}};

const DtypeInfo* find_dtype(std::string_view name) {
  for (const DtypeInfo& info : kDtypes) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

std::string too_deep() {
  return "nests deeper than " + std::to_string(kMaxSafetensorsNesting) + " levels";
}

std::string dims_text(const std::vector<Index>& dims) {
  std::string text = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + "]";
}

// The safetensors schema over a JsonCursor: the top-level object, __metadata__ and tensor entries.
class HeaderParser {
 public:
  HeaderParser(const fs::path& path, std::string_view text, std::uint64_t data_size)
      : json_(path, text, "header"), data_size_(data_size) {}

  SafetensorsHeader parse() {
    json_.skip_whitespace();
    if (json_.peek() != '{') {
      if (json_.at_end()) json_.syntax_error("the header is empty");
      if (!json_.skip_value(kMaxSafetensorsNesting)) json_.fail("the header " + too_deep());
      json_.skip_whitespace();
      if (!json_.at_end()) json_.syntax_error("text after the JSON value");
      json_.fail("header is not a JSON object");
    }
    json_.expect('{');
    bool seen_metadata = false;
    json_.for_each_member("the header", [&](std::string key) {
      if (key == kSafetensorsMetadataKey) {
        if (seen_metadata) json_.fail("__metadata__ appears twice in the header");
        seen_metadata = true;
        parse_metadata();
        return;
      }
      if (header_.tensors.size() == kMaxSafetensorsTensors) {
        json_.fail("more than " + std::to_string(kMaxSafetensorsTensors) +
                   " tensors in the header (the limit)");
      }
      header_.tensors.push_back(parse_entry(std::move(key)));
    });
    // Only whitespace may follow: writers pad the header with spaces to 8-byte alignment.
    json_.skip_whitespace();
    if (!json_.at_end()) json_.syntax_error("text after the header object");
    check_unique_names();
    return std::move(header_);
  }

 private:
  void parse_metadata() {
    if (json_.peek() != '{') json_.fail("__metadata__ is not a JSON object");
    json_.expect('{');
    json_.for_each_member("__metadata__", [&](std::string key) {
      const std::string shown = shown_in_message(key);
      if (json_.peek() != '"') json_.fail("__metadata__ value '" + shown + "' is not a string");
      const std::size_t value_at = json_.position() + 1;
      std::string value = json_.string();
      // Written without escapes, the value's bytes in the text are its characters: the checksum's
      // digits can then be found, and read as zeros, where they lie.
      const bool plain = json_.position() - 1 - value_at == value.size();
      if (key == kSafetensorsChecksumKey && plain) header_.checksum_at = value_at;
      if (!header_.metadata.emplace(std::move(key), std::move(value)).second) {
        json_.fail("__metadata__ key '" + shown + "' appears twice");
      }
    });
  }

  // Messages about one tensor are built only when one is thrown: a header may hold 100,000 entries.
  [[noreturn]] void fail_in(const SafetensorsEntry& entry, const std::string& what) const {
    json_.fail("tensor '" + shown_in_message(entry.name) + "': " + what);
  }

  SafetensorsEntry parse_entry(std::string name) {
    if (name.empty()) json_.fail("a tensor has an empty name");
    SafetensorsEntry entry;
    entry.name = std::move(name);
    if (json_.peek() != '{') fail_in(entry, "entry is not a JSON object");
    json_.expect('{');
    bool has_dtype = false, has_shape = false, has_offsets = false;
    const auto once = [&](bool& seen, std::string_view key) {
      if (seen) fail_in(entry, "'" + std::string(key) + "' appears twice");
      seen = true;
    };
    json_.for_each_member("a tensor entry", [&](std::string key) {
      if (key == "dtype") {
        once(has_dtype, key);
        parse_dtype(entry);
      } else if (key == "shape") {
        once(has_shape, key);
        parse_shape(entry);
      } else if (key == "data_offsets") {
        once(has_offsets, key);
        parse_offsets(entry);
      } else {
        // Other keys are ignored, as the reference implementation does; their values still
        // have to be JSON, and shallow.
        if (!json_.skip_value(kMaxSafetensorsNesting))
          fail_in(entry, "'" + shown_in_message(key) + "' " + too_deep());
      }
    });
    if (!has_dtype) fail_in(entry, "missing 'dtype'");
    if (!has_shape) fail_in(entry, "missing 'shape'");
    if (!has_offsets) fail_in(entry, "missing 'data_offsets'");
    check_entry(entry);
    return entry;
  }

  void parse_dtype(SafetensorsEntry& entry) {
    if (json_.peek() != '"') fail_in(entry, "'dtype' is not a string");
    const std::string name = json_.string();
    const DtypeInfo* info = find_dtype(name);
    if (info == nullptr) {
      fail_in(entry, "dtype " + shown_in_message(name, 20) +
                         " is not supported (dlrun reads F32, and F16, BF16, F64, I8, U8 converted to F32)");
    }
    entry.dtype = info->dtype;
    entry.dtype_name = info->name;
  }

  void parse_shape(SafetensorsEntry& entry) {
    if (json_.peek() != '[') fail_in(entry, "'shape' is not an array");
    json_.expect('[');
    json_.for_each_element("a shape", [&](std::size_t index) {
      if (index == kMaxSafetensorsRank) {
        fail_in(entry, "shape has more than " + std::to_string(kMaxSafetensorsRank) + " dimensions");
      }
      const JsonCursor::Scalar dim = json_.scalar();
      if (!dim.value || *dim.value > static_cast<std::uint64_t>(std::numeric_limits<Index>::max())) {
        fail_in(entry, "shape dimension " + std::to_string(index) + " (" + dim.describe() +
                           ") is not a non-negative integer");
      }
      entry.dims.push_back(static_cast<Index>(*dim.value));
    });
  }

  void parse_offsets(SafetensorsEntry& entry) {
    const auto not_pair = [&] { fail_in(entry, "'data_offsets' is not [begin, end]"); };
    if (json_.peek() != '[') not_pair();
    json_.expect('[');
    std::uint64_t values[2] = {0, 0};
    std::size_t count = 0;
    json_.for_each_element("data_offsets", [&](std::size_t index) {
      if (index == 2) not_pair();
      const JsonCursor::Scalar value = json_.scalar();
      if (!value.value)
        fail_in(entry, "'data_offsets' are not non-negative integers (" + value.describe() + ")");
      values[index] = *value.value;
      count = index + 1;
    });
    if (count != 2) not_pair();
    entry.begin = values[0];
    entry.end = values[1];
  }

  // Offsets inside the data area, and a shape whose byte count is the range's. Every product of the
  // dimensions must fit an Index, as code elsewhere multiplies them in any order: a zero dimension
  // does not keep [2^62, 4, 0] from overflowing on the way to its zero elements.
  void check_entry(const SafetensorsEntry& entry) const {
    const auto offsets = [&] {
      return "[" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) + "]";
    };
    if (entry.begin > entry.end) fail_in(entry, "data_offsets " + offsets() + " end before they begin");
    if (entry.end > data_size_) {
      fail_in(entry, "data_offsets " + offsets() + " go past the data area (" + std::to_string(data_size_) +
                         " bytes)");
    }
    constexpr auto kMaxIndex = static_cast<std::uint64_t>(std::numeric_limits<Index>::max());
    std::uint64_t nonzero_product = 1;
    bool empty = false;
    for (const Index d : entry.dims) {
      const auto dim = static_cast<std::uint64_t>(d);
      if (dim == 0) {
        empty = true;
      } else if (nonzero_product > kMaxIndex / dim) {
        fail_in(entry,
                "shape " + dims_text(entry.dims) + ": the product of its dimensions overflows 64 bits");
      } else {
        nonzero_product *= dim;
      }
    }
    const std::uint64_t elements = empty ? 0 : nonzero_product;
    const std::uint64_t element_bytes = find_dtype(entry.dtype_name)->bytes;
    const std::uint64_t range = entry.end - entry.begin;
    if (elements > range / element_bytes || elements * element_bytes != range) {
      fail_in(entry, "shape " + dims_text(entry.dims) + " of " + std::string(entry.dtype_name) + " (" +
                         std::to_string(elements) + " elements of " + std::to_string(element_bytes) +
                         " bytes) does not match its " + std::to_string(range) + "-byte data range " +
                         offsets());
    }
  }

  // Without copying the names: pointers sorted by name, neighbours compared.
  void check_unique_names() const {
    std::vector<const std::string*> names;
    names.reserve(header_.tensors.size());
    for (const SafetensorsEntry& entry : header_.tensors) names.push_back(&entry.name);
    std::sort(names.begin(), names.end(), [](const std::string* a, const std::string* b) { return *a < *b; });
    for (std::size_t i = 1; i < names.size(); ++i) {
      if (*names[i] == *names[i - 1]) {
        json_.fail("tensor '" + shown_in_message(*names[i]) + "' appears twice in the header");
      }
    }
  }

  JsonCursor json_;
  std::uint64_t data_size_;
  SafetensorsHeader header_;
};

}  // namespace

SafetensorsHeader parse_safetensors_header(const fs::path& path, std::string_view text,
                                           std::uint64_t data_size) {
  return HeaderParser(path, text, data_size).parse();
}

}  // namespace dlrun
