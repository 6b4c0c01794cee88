#include "data/idx_reader.hpp"

#include <string>

#include "core/errors.hpp"
#include "data/array_bytes.hpp"
#include "data/file_bytes.hpp"
#include "data/labels.hpp"

namespace dlrun {
namespace {

constexpr std::uint8_t kUnsignedByte = 0x08;

std::string type_name(std::uint8_t code) {
  switch (code) {
    case 0x08:
      return "unsigned byte";
    case 0x09:
      return "signed byte";
    case 0x0B:
      return "int16";
    case 0x0C:
      return "int32";
    case 0x0D:
      return "float32";
    case 0x0E:
      return "float64";
    default:
      return "unknown";
  }
}

std::string hex_byte(std::uint8_t value) {
  static constexpr char kDigits[] = "0123456789abcdef";
  return std::string("0x") + kDigits[value >> 4] + kDigits[value & 15];
}

std::string dims_text(const std::vector<Index>& dims) {
  std::string text;
  for (std::size_t i = 0; i < dims.size(); ++i) text += (i ? " x " : "") + std::to_string(dims[i]);
  return text;
}

}  // namespace

IdxArray read_idx_array(const std::filesystem::path& path, std::string_view role) {
  FileBytes file = read_file_bytes(path, role);
  const std::vector<std::uint8_t>& bytes = file.bytes;
  const std::string name = std::string(role) + (file.gzipped ? " (gzip; offsets are decompressed)" : "");
  auto fail = [&](const std::string& message) -> void {
    throw DataError(Location{path.string()}, name + ": " + message);
  };

  // Header: two zero bytes, the type code, the number of dimensions, then one big-endian uint32 each.
  if (bytes.size() < 4)
    fail("truncated IDX header: " + std::to_string(bytes.size()) + " bytes, need at least 4");
  if (bytes[0] != 0 || bytes[1] != 0 || bytes[3] == 0) {
    fail("not an IDX file: magic bytes " + hex_byte(bytes[0]) + " " + hex_byte(bytes[1]) + " " +
         hex_byte(bytes[2]) + " " + hex_byte(bytes[3]) + " (expected 0x00 0x00 <type> <dimensions>)");
  }
  if (bytes[2] != kUnsignedByte) {
    fail("unsupported IDX type " + hex_byte(bytes[2]) + " (" + type_name(bytes[2]) +
         "); dlrun reads unsigned byte (0x08) IDX files");
  }
  const std::size_t rank = bytes[3];
  const std::size_t header_size = 4 + 4 * rank;
  if (bytes.size() < header_size) {
    fail("truncated IDX header: " + std::to_string(rank) + " dimensions need " + std::to_string(header_size) +
         " bytes, the file has " + std::to_string(bytes.size()));
  }
  IdxArray array;
  for (std::size_t d = 0; d < rank; ++d) {
    const std::uint8_t* p = bytes.data() + 4 + 4 * d;
    array.dims.push_back(Index{p[0]} << 24 | Index{p[1]} << 16 | Index{p[2]} << 8 | Index{p[3]});
  }
  if (array.dims[0] == 0) fail("contains no examples (first dimension is 0)");
  for (std::size_t d = 1; d < rank; ++d) {
    if (array.dims[d] == 0)
      fail("dimension " + std::to_string(d + 1) + " is 0 (dimensions " + dims_text(array.dims) + ")");
  }
  const std::size_t available = bytes.size() - header_size;
  // Compared before any allocation: up to 255 dimensions of up to 2^32 - 1 each can claim more
  // than 2^64 bytes, which must not wrap around to a size the file happens to have.
  const std::optional<std::uint64_t> needed = array_bytes(array.dims, 1);
  if (!needed || *needed > available) {
    fail("truncated data: dimensions " + dims_text(array.dims) + " need " +
         (needed ? std::to_string(*needed) : std::string("more than 2^63")) + " bytes from byte offset " +
         std::to_string(header_size) + ", but the file ends at byte offset " + std::to_string(bytes.size()));
  }
  const auto count = static_cast<std::size_t>(*needed);
  if (count < available) {
    fail(std::to_string(available - count) + " unexpected bytes after the data at byte offset " +
         std::to_string(header_size + count) + " (dimensions " + dims_text(array.dims) + ")");
  }
  // Drop the header in place: a memmove over pages already touched, cheaper than a second buffer.
  array.values = std::move(file.bytes);
  array.values.erase(array.values.begin(), array.values.begin() + static_cast<std::ptrdiff_t>(header_size));
  return array;
}

Dataset read_idx(const std::filesystem::path& images, const std::filesystem::path& labels) {
  IdxArray image_array = read_idx_array(images, "IDX images file");
  const auto& dims = image_array.dims;
  Dataset dataset;
  dataset.source = images.string();
  if (dims.size() == 2) {
    dataset.sample_shape = Shape{dims[1]};
  } else if (dims.size() == 3) {
    dataset.sample_shape = Shape{1, dims[1], dims[2]};  // one channel, NCHW
  } else if (dims.size() == 4) {
    dataset.sample_shape = Shape{dims[1], dims[2], dims[3]};
  } else {
    throw DataError(Location{images.string()},
                    "IDX images file: " + std::to_string(dims.size()) +
                        " dimensions; expected 2 (N, F), 3 (N, rows, cols) or 4 (N, C, H, W)");
  }
  dataset.bytes = std::move(image_array.values);
  if (labels.empty()) return dataset;

  const IdxArray label_array = read_idx_array(labels, "IDX labels file");
  if (label_array.dims.size() != 1) {
    throw DataError(Location{labels.string()}, "IDX labels file: " + std::to_string(label_array.dims.size()) +
                                                   " dimensions; expected 1 (one label per example)");
  }
  if (label_array.dims[0] != dims[0]) {
    throw DataError("example count mismatch: images file " + images.string() + " has " +
                    std::to_string(dims[0]) + " examples, labels file " + labels.string() + " has " +
                    std::to_string(label_array.dims[0]));
  }
  dataset.source += " + " + labels.string();
  std::vector<std::int64_t> values(label_array.values.begin(), label_array.values.end());
  ClassLabels classes = integer_classes(values);
  dataset.labels = std::move(classes.labels);
  dataset.class_names = std::move(classes.names);
  return dataset;
}

}  // namespace dlrun
