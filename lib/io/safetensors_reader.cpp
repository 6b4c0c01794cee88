// Reading safetensors files: the header through parse_safetensors_header, then the layout of the
// data area, the checksum, and the tensors (docs/checkpoints.md). Nothing is allocated from what
// the file claims before it has been checked against the file's size.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <tuple>

#include "core/errors.hpp"
#include "io/crc32.hpp"
#include "io/json_cursor.hpp"
#include "io/safetensors.hpp"
#include "io/safetensors_header.hpp"

namespace dlrun {

namespace fs = std::filesystem;

namespace {

// Every file dlrun writes names its format here, and carries the checksum.
constexpr std::string_view kDlrunFormatPrefix = "dlrun-";

[[noreturn]] void bad_file(const fs::path& path, const std::string& what) {
  throw DataError(Location{path.string()}, what);
}

// An open file read with pread(2) at checked offsets: nothing is read before it is validated.
class InputFile {
 public:
  explicit InputFile(const fs::path& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) bad_file(path, "cannot open: " + std::generic_category().message(errno));
    struct stat info {};
    if (::fstat(fd_, &info) != 0) {
      const int error = errno;
      ::close(fd_);
      bad_file(path, "cannot stat: " + std::generic_category().message(error));
    }
    if (!S_ISREG(info.st_mode)) {
      ::close(fd_);
      bad_file(path, "not a regular file");
    }
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

// The tensors in data-offset order, which must tile the data area exactly: from byte 0, each
// beginning where the previous one ends, the last ending at the end of the file. (The reference
// implementation requires the same; a gap or trailing bytes hide data no tensor accounts for.)
std::vector<SafetensorsEntry*> check_layout(const fs::path& path, std::vector<SafetensorsEntry>& entries,
                                            std::uint64_t data_size) {
  std::vector<SafetensorsEntry*> order;
  order.reserve(entries.size());
  for (SafetensorsEntry& entry : entries) order.push_back(&entry);
  std::sort(order.begin(), order.end(), [](const SafetensorsEntry* a, const SafetensorsEntry* b) {
    return std::tie(a->begin, a->end) < std::tie(b->begin, b->end);
  });
  const auto offsets = [](const SafetensorsEntry& entry) {
    return "[" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) + "]";
  };
  const SafetensorsEntry* previous = nullptr;
  std::uint64_t next = 0;
  for (const SafetensorsEntry* entry : order) {
    const std::string where =
        "tensor '" + shown_in_message(entry->name) + "': data_offsets " + offsets(*entry);
    if (entry->begin < next) {
      bad_file(path, where + " overlap tensor '" + shown_in_message(previous->name) + "' " +
                         offsets(*previous) + " in the data area");
    }
    if (entry->begin > next) {
      bad_file(path, where + " leave a gap of " + std::to_string(entry->begin - next) + " bytes " +
                         (previous ? "after tensor '" + shown_in_message(previous->name) + "'"
                                   : std::string("at the start of the data area")));
    }
    previous = entry;
    next = entry->end;
  }
  if (next != data_size) {
    bad_file(path, std::to_string(data_size - next) + " trailing bytes after the last tensor's data (" +
                       (previous ? "tensor '" + shown_in_message(previous->name) + "' ends at " +
                                       std::to_string(next)
                                 : std::string("no tensors")) +
                       "; the data area holds " + std::to_string(data_size) + " bytes)");
  }
  return order;
}

// The CRC-32 the file claims, when it has one. Required of files whose format names dlrun.
std::optional<std::uint32_t> stored_checksum(const fs::path& path, const SafetensorsHeader& header) {
  const auto found = header.metadata.find(std::string(kSafetensorsChecksumKey));
  if (found == header.metadata.end()) {
    const auto format = header.metadata.find("format");
    if (format != header.metadata.end() && format->second.starts_with(kDlrunFormatPrefix)) {
      bad_file(path, "__metadata__ has no checksum, which every '" + shown_in_message(format->second) +
                         "' file that dlrun writes carries (a damaged header, or a file from a dlrun "
                         "older than checksums)");
    }
    return std::nullopt;
  }
  const std::string& text = found->second;
  const bool well_formed = header.checksum_at && text.size() == 14 && text.starts_with("crc32:") &&
                           text.find_first_not_of("0123456789abcdefABCDEF", 6) == std::string::npos;
  if (!well_formed) {
    bad_file(path, "__metadata__ checksum '" + shown_in_message(text) +
                       "' is not \"crc32:\" and 8 hex digits written without escapes");
  }
  return static_cast<std::uint32_t>(std::stoul(text.substr(6), nullptr, 16));
}

// The CRC-32 of the length field and the header with the checksum's digits read as zeros.
std::uint32_t header_crc(std::span<const std::byte> length, std::string_view text,
                         const std::optional<std::size_t>& checksum_at) {
  std::uint32_t crc = crc32_update(0, length);
  if (!checksum_at) return crc32_update(crc, text);
  const std::size_t digits = *checksum_at + 6;  // after "crc32:"
  crc = crc32_update(crc, text.substr(0, digits));
  crc = crc32_update(crc, "00000000");
  return crc32_update(crc, text.substr(digits + 8));
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

// Reads one tensor's bytes into `tensor` (converted to float32) and returns `crc` updated by them.
std::uint32_t read_tensor_data(const InputFile& file, std::uint64_t data_start, const SafetensorsEntry& entry,
                               Tensor& tensor, std::uint32_t crc) {
  const std::uint64_t offset = data_start + entry.begin;
  const std::size_t count = static_cast<std::size_t>(tensor.size());
  if (entry.dtype == SafetensorsDtype::f32) {
    const auto bytes = std::as_writable_bytes(tensor.values());
    file.read_exact(offset, bytes);
    return crc32_update(crc, bytes);
  }
  std::vector<std::byte> raw(static_cast<std::size_t>(entry.end - entry.begin));
  file.read_exact(offset, raw);
  for (std::size_t i = 0; i < count; ++i) {
    if (entry.dtype == SafetensorsDtype::i8) {
      tensor.data()[i] = static_cast<float>(static_cast<std::int8_t>(raw[i]));
    } else if (entry.dtype == SafetensorsDtype::u8) {
      tensor.data()[i] = static_cast<float>(std::to_integer<std::uint8_t>(raw[i]));
    } else if (entry.dtype == SafetensorsDtype::f64) {
      double value;
      std::memcpy(&value, raw.data() + 8 * i, 8);
      tensor.data()[i] = static_cast<float>(value);
    } else {
      std::uint16_t value;
      std::memcpy(&value, raw.data() + 2 * i, 2);
      tensor.data()[i] = entry.dtype == SafetensorsDtype::f16
                             ? half_to_float(value)
                             : std::bit_cast<float>(std::uint32_t{value} << 16);
    }
  }
  return crc32_update(crc, raw);
}

}  // namespace

SafetensorsContents read_safetensors(const fs::path& path) {
  const InputFile file(path);
  if (file.size() < 8) {
    bad_file(path, "file too short for a safetensors header (" + std::to_string(file.size()) + " bytes)");
  }
  std::array<std::byte, 8> length;
  file.read_exact(0, length);
  std::uint64_t header_size = 0;
  for (std::size_t i = 0; i < 8; ++i) header_size |= std::to_integer<std::uint64_t>(length[i]) << (8 * i);
  if (header_size > kMaxSafetensorsHeaderBytes) {
    bad_file(path, "header length " + std::to_string(header_size) + " is over the " +
                       std::to_string(kMaxSafetensorsHeaderBytes >> 20) +
                       " MiB limit (not a safetensors file?)");
  }
  if (header_size > file.size() - 8) {
    bad_file(path, "header length " + std::to_string(header_size) + " exceeds the file size (" +
                       std::to_string(file.size()) + " bytes; truncated?)");
  }
  const std::uint64_t data_start = 8 + header_size;
  const std::uint64_t data_size = file.size() - data_start;

  SafetensorsHeader header;
  std::optional<std::uint32_t> expected;
  std::uint32_t crc = 0;
  {
    // The text is freed before the tensors are allocated: the peak is the larger of the two.
    std::string text(static_cast<std::size_t>(header_size), '\0');
    file.read_exact(8, std::as_writable_bytes(std::span(text)));
    header = parse_safetensors_header(path, text, data_size);
    expected = stored_checksum(path, header);
    crc = header_crc(length, text, header.checksum_at);
  }
  const auto order = check_layout(path, header.tensors, data_size);

  // Everything is validated; allocations are now bounded by the file's size.
  SafetensorsContents contents;
  contents.tensors.reserve(order.size());
  for (SafetensorsEntry* entry : order) {
    Tensor tensor{Shape(std::move(entry->dims))};
    crc = read_tensor_data(file, data_start, *entry, tensor, crc);
    contents.tensors.emplace_back(std::move(entry->name), std::move(tensor));
  }
  if (expected && crc != *expected) {
    bad_file(path, "__metadata__ checksum " + safetensors_checksum_text(*expected) +
                       " does not match the file's CRC-32 " + safetensors_checksum_text(crc) +
                       ": the file is damaged");
  }
  header.metadata.erase(std::string(kSafetensorsChecksumKey));
  contents.metadata = std::move(header.metadata);
  contents.checksum = expected;
  return contents;
}

}  // namespace dlrun
