#include "io/safetensors.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <system_error>
#include <tuple>

#include "core/errors.hpp"
#include "io/files.hpp"

namespace dlrun {

namespace fs = std::filesystem;
using nlohmann::json;

// Tensor data is copied to and from disk as it lies in memory; safetensors is little-endian.
static_assert(std::endian::native == std::endian::little,
              "dlrun's safetensors I/O assumes a little-endian host");

namespace {

// A header is a few KB per hundred tensors; a larger claim is a corrupt or hostile file, and
// trusting it would mean a huge allocation (the Python library uses the same 100 MB bound).
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;
constexpr std::string_view kMetadataKey = "__metadata__";

[[noreturn]] void bad_file(const fs::path& path, std::string_view what) {
  throw DataError(Location{path.string()}, what);
}

// The dtypes read; all but F32 are converted to float32 on load (weights saved in half or double
// precision by PyTorch; I8 and U8, exactly, for int8 quantized weights and pruning masks).
enum class Dtype { f32, f16, bf16, f64, i8, u8 };

struct DtypeInfo {
  std::string_view name;
  Dtype dtype;
  std::uint64_t bytes;
};

constexpr DtypeInfo kDtypes[] = {{"F32", Dtype::f32, 4}, {"F16", Dtype::f16, 2}, {"BF16", Dtype::bf16, 2},
                                 {"F64", Dtype::f64, 8}, {"I8", Dtype::i8, 1},   {"U8", Dtype::u8, 1}};

struct Entry {
  std::string name;
  DtypeInfo dtype;
  std::vector<Index> dims;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

// An open file read with pread(2) at checked offsets: nothing is read before it is validated.
class InputFile {
 public:
  explicit InputFile(const fs::path& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) bad_file(path, "cannot open: " + std::generic_category().message(errno));
    struct stat info {};
    if (::fstat(fd_, &info) != 0) bad_file(path, "cannot stat: " + std::generic_category().message(errno));
    if (!S_ISREG(info.st_mode)) bad_file(path, "not a regular file");
    size_ = static_cast<std::uint64_t>(info.st_size);
  }
  ~InputFile() { ::close(fd_); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  std::uint64_t size() const { return size_; }

  // Fills `out` from `offset`; callers have checked offset + out.size() <= size().
  void read_exact(std::uint64_t offset, std::span<std::byte> out) const {
    while (!out.empty()) {
      const ssize_t count = ::pread(fd_, out.data(), out.size(), static_cast<off_t>(offset));
      if (count < 0) {
        if (errno == EINTR) continue;
        bad_file(path_, "cannot read: " + std::generic_category().message(errno));
      }
      if (count == 0) bad_file(path_, "file ended early (changed while being read?)");
      out = out.subspan(static_cast<std::size_t>(count));
      offset += static_cast<std::uint64_t>(count);
    }
  }

 private:
  const fs::path& path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

json parse_header(const fs::path& path, const std::string& text) {
  // nlohmann keeps the last of duplicated keys; a duplicated tensor name would silently hide one
  // tensor, so top-level keys are collected as they are parsed.
  std::set<std::string> names;
  std::string duplicate;
  const json::parser_callback_t callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 && !names.insert(parsed.get<std::string>()).second) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  json header;
  try {
    header = json::parse(text, callback);
  } catch (const json::exception& error) {
    // parse_error, and out_of_range for a number beyond double such as 1e400 (found by fuzzing).
    std::string message = error.what();
    if (const auto end = message.find("] ");
        message.starts_with("[json.exception") && end != std::string::npos) {
      message = message.substr(end + 2);
    }
    bad_file(path, "header is not valid JSON: " + message);
  }
  if (!header.is_object()) bad_file(path, "header is not a JSON object");
  if (!duplicate.empty()) bad_file(path, "tensor '" + duplicate + "' appears twice in the header");
  return header;
}

std::map<std::string, std::string> parse_metadata(const fs::path& path, const json& value) {
  if (!value.is_object()) bad_file(path, "__metadata__ is not a JSON object");
  std::map<std::string, std::string> metadata;
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) bad_file(path, "__metadata__ value '" + key + "' is not a string");
    metadata[key] = item.get<std::string>();
  }
  return metadata;
}

// A non-negative JSON integer, or nullopt (negative, fractional, too large, or not a number).
std::optional<std::uint64_t> non_negative_integer(const json& value) {
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  if (value.is_number_integer() && value.get<std::int64_t>() >= 0) return value.get<std::uint64_t>();
  return std::nullopt;
}

Entry parse_entry(const fs::path& path, const std::string& name, const json& value, std::uint64_t data_size) {
  const std::string where = "tensor '" + name + "': ";
  if (name.empty()) bad_file(path, "a tensor has an empty name");
  if (!value.is_object()) bad_file(path, where + "entry is not a JSON object");
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!value.contains(key)) bad_file(path, where + "missing '" + key + "'");
  }
  Entry entry;
  entry.name = name;

  const json& dtype = value.at("dtype");
  if (!dtype.is_string()) bad_file(path, where + "'dtype' is not a string");
  const auto known = std::find_if(std::begin(kDtypes), std::end(kDtypes), [&](const DtypeInfo& info) {
    return info.name == dtype.get<std::string>();
  });
  if (known == std::end(kDtypes)) {
    bad_file(path, where + "dtype " + dtype.get<std::string>() +
                       " is not supported (dlrun reads F32, and F16, BF16, F64, I8, U8 converted to F32)");
  }
  entry.dtype = *known;

  const json& offsets = value.at("data_offsets");
  if (!offsets.is_array() || offsets.size() != 2)
    bad_file(path, where + "'data_offsets' is not [begin, end]");
  const auto begin = non_negative_integer(offsets[0]);
  const auto end = non_negative_integer(offsets[1]);
  if (!begin || !end) bad_file(path, where + "'data_offsets' are not non-negative integers");
  if (*begin > *end) bad_file(path, where + "'data_offsets' end before they begin");
  if (*end > data_size) {
    bad_file(path, where + "data_offsets [" + std::to_string(*begin) + ", " + std::to_string(*end) +
                       "] go past the data area (" + std::to_string(data_size) + " bytes)");
  }
  entry.begin = *begin;
  entry.end = *end;

  const json& shape = value.at("shape");
  if (!shape.is_array()) bad_file(path, where + "'shape' is not an array");
  // A lying shape must neither overflow nor claim more than its range: every dimension fits an
  // Index, and the byte count is compared with the range before each multiplication.
  const std::uint64_t range = entry.end - entry.begin;
  bool empty = false;
  for (const json& dim : shape) {
    const auto d = non_negative_integer(dim);
    if (!d || *d > static_cast<std::uint64_t>(std::numeric_limits<Index>::max())) {
      // Only a flat value is shown: json::dump recurses, and a million nested lists overflow the stack.
      const std::string shown = dim.is_structured() ? std::string(dim.is_array() ? "a list" : "an object")
                                                    : dim.dump().substr(0, 40);
      bad_file(path, where + "shape dimension " + std::to_string(entry.dims.size()) + " (" + shown +
                         ") is not a non-negative integer");
    }
    if (*d == 0) empty = true;
    entry.dims.push_back(static_cast<Index>(*d));
  }
  std::uint64_t bytes = empty ? 0 : entry.dtype.bytes;
  bool fits = true;
  for (const Index d : entry.dims) {
    if (empty) break;
    const auto dim = static_cast<std::uint64_t>(d);
    if (bytes > range / dim) {
      fits = false;
      break;
    }
    bytes *= dim;
  }
  if (!fits || bytes != range) {
    bad_file(path, where + "shape " + shape.dump() + " of " + std::string(entry.dtype.name) +
                       " does not match its " + std::to_string(range) + "-byte data range");
  }
  return entry;
}

// IEEE 754 binary16 to binary32, exactly (every half value is a float value).
float half_to_float(std::uint16_t half) {
  const std::uint32_t sign = std::uint32_t{half & 0x8000u} << 16;
  const std::uint32_t exponent = (half >> 10) & 0x1f;
  const std::uint32_t mantissa = half & 0x3ffu;
  std::uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // inf, nan
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);  // rebias 15 -> 127
  } else if (mantissa == 0) {
    bits = sign;  // signed zero
  } else {
    // Subnormal half: mantissa * 2^-24, exact in float.
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    bits = sign | std::bit_cast<std::uint32_t>(magnitude);
  }
  return std::bit_cast<float>(bits);
}

void read_tensor_data(const InputFile& file, std::uint64_t data_start, const Entry& entry, Tensor& tensor) {
  const std::uint64_t offset = data_start + entry.begin;
  const std::size_t count = static_cast<std::size_t>(tensor.size());
  if (entry.dtype.dtype == Dtype::f32) {
    file.read_exact(offset, std::as_writable_bytes(tensor.values()));
    return;
  }
  std::vector<std::byte> raw(static_cast<std::size_t>(entry.end - entry.begin));
  file.read_exact(offset, raw);
  for (std::size_t i = 0; i < count; ++i) {
    if (entry.dtype.dtype == Dtype::i8) {
      tensor.data()[i] = static_cast<float>(static_cast<std::int8_t>(raw[i]));
    } else if (entry.dtype.dtype == Dtype::u8) {
      tensor.data()[i] = static_cast<float>(std::to_integer<std::uint8_t>(raw[i]));
    } else if (entry.dtype.dtype == Dtype::f64) {
      double value;
      std::memcpy(&value, raw.data() + 8 * i, 8);
      tensor.data()[i] = static_cast<float>(value);
    } else {
      std::uint16_t value;
      std::memcpy(&value, raw.data() + 2 * i, 2);
      tensor.data()[i] = entry.dtype.dtype == Dtype::f16 ? half_to_float(value)
                                                         : std::bit_cast<float>(std::uint32_t{value} << 16);
    }
  }
}

}  // namespace

const Tensor* SafetensorsContents::find(std::string_view name) const {
  for (const auto& [tensor_name, tensor] : tensors) {
    if (tensor_name == name) return &tensor;
  }
  return nullptr;
}

namespace {

// The bytes of `tensor` as `dtype` ("F32", or "I8" / "U8" for integer values in range).
std::vector<std::byte> integer_bytes(const std::string& name, const Tensor& tensor,
                                     const std::string& dtype) {
  const bool is_signed = dtype == "I8";
  require(is_signed || dtype == "U8",
          "write_safetensors: dtype " + dtype + " of '" + name + "' is not written");
  const float low = is_signed ? -128.0f : 0.0f;
  const float high = is_signed ? 127.0f : 255.0f;
  std::vector<std::byte> bytes(static_cast<std::size_t>(tensor.size()));
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const float value = tensor.data()[i];
    require(value >= low && value <= high && value == std::nearbyint(value),
            "write_safetensors: '" + name + "' holds a value that is not " + dtype);
    bytes[i] = is_signed ? static_cast<std::byte>(static_cast<std::int8_t>(value))
                         : static_cast<std::byte>(static_cast<std::uint8_t>(value));
  }
  return bytes;
}

}  // namespace

void write_safetensors(const fs::path& path,
                       const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  write_safetensors(path, tensors, metadata, {});
}

void write_safetensors(const fs::path& path,
                       const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                       const std::map<std::string, std::string>& metadata,
                       const std::map<std::string, std::string>& dtypes) {
  // ordered_json keeps the header in the order tensors are laid out, for people reading it.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[std::string(kMetadataKey)] = metadata;
  std::set<std::string_view> names;
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    require(tensor != nullptr, "write_safetensors: null tensor '" + name + "'");
    require(!name.empty() && name != kMetadataKey, "write_safetensors: invalid tensor name '" + name + "'");
    require(names.insert(name).second, "write_safetensors: tensor '" + name + "' given twice");
    const auto dtype = dtypes.find(name);
    const bool is_float = dtype == dtypes.end() || dtype->second == "F32";
    const std::uint64_t bytes = static_cast<std::uint64_t>(tensor->size()) * (is_float ? sizeof(float) : 1);
    header[name] = {{"dtype", is_float ? std::string("F32") : dtype->second},
                    {"shape", tensor->shape().dims()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  // Invalid UTF-8 in metadata (a config in Latin-1) is replaced rather than refused: the
  // checkpoint matters more than a character.
  std::string text = header.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  // Padded with spaces so that the data area starts 8-byte aligned, as the Python library does.
  text.append((8 - text.size() % 8) % 8, ' ');

  std::array<std::byte, 8> length;
  for (std::size_t i = 0; i < 8; ++i) length[i] = static_cast<std::byte>((text.size() >> (8 * i)) & 0xff);

  AtomicFile file(path);
  file.write(length);
  file.write(text);
  for (const auto& [name, tensor] : tensors) {
    const auto dtype = dtypes.find(name);
    if (dtype == dtypes.end() || dtype->second == "F32") {
      file.write(std::as_bytes(tensor->values()));
    } else {
      file.write(integer_bytes(name, *tensor, dtype->second));
    }
  }
  file.commit();
}

SafetensorsContents read_safetensors(const fs::path& path) {
  const InputFile file(path);
  if (file.size() < 8)
    bad_file(path, "file too short for a safetensors header (" + std::to_string(file.size()) + " bytes)");
  std::array<std::byte, 8> length_bytes;
  file.read_exact(0, length_bytes);
  std::uint64_t header_size = 0;
  for (std::size_t i = 0; i < 8; ++i)
    header_size |= std::to_integer<std::uint64_t>(length_bytes[i]) << (8 * i);
  if (header_size > kMaxHeaderBytes) {
    bad_file(path, "header length " + std::to_string(header_size) +
                       " is over the 100 MB limit (not a safetensors file?)");
  }
  if (header_size > file.size() - 8) {
    bad_file(path, "header length " + std::to_string(header_size) + " exceeds the file size (" +
                       std::to_string(file.size()) + " bytes; truncated?)");
  }
  std::string text(static_cast<std::size_t>(header_size), '\0');
  file.read_exact(8, std::as_writable_bytes(std::span(text)));

  const json header = parse_header(path, text);
  const std::uint64_t data_start = 8 + header_size;
  const std::uint64_t data_size = file.size() - data_start;

  SafetensorsContents contents;
  std::vector<Entry> entries;
  try {
    for (const auto& [key, value] : header.items()) {
      if (key == kMetadataKey) {
        contents.metadata = parse_metadata(path, value);
      } else {
        entries.push_back(parse_entry(path, key, value, data_size));
      }
    }
  } catch (const json::exception& error) {
    // Every type is checked before it is read; this only keeps a missed case a DataError.
    bad_file(path, std::string("malformed header: ") + error.what());
  }
  // File order; then any overlap shows between neighbours.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  for (std::size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].begin < entries[i - 1].end) {
      bad_file(path, "tensors '" + entries[i - 1].name + "' and '" + entries[i].name +
                         "' overlap in the data area");
    }
  }

  // Everything is validated; allocations are now bounded by the file's size.
  contents.tensors.reserve(entries.size());
  for (const Entry& entry : entries) {
    Tensor tensor{Shape(entry.dims)};
    read_tensor_data(file, data_start, entry, tensor);
    contents.tensors.emplace_back(entry.name, std::move(tensor));
  }
  return contents;
}

}  // namespace dlrun
