// Writing safetensors files, with the checksum (docs/checkpoints.md); reading is in
// safetensors_reader.cpp.
#include "io/safetensors.hpp"

#include <array>
#include <bit>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "core/errors.hpp"
#include "io/crc32.hpp"
#include "io/files.hpp"
#include "io/safetensors_header.hpp"

namespace dlrun {

namespace fs = std::filesystem;

// Tensor data is copied to and from disk as it lies in memory; safetensors is little-endian.
static_assert(std::endian::native == std::endian::little,
              "dlrun's safetensors I/O assumes a little-endian host");

namespace {

// The bytes of `tensor` as `dtype` ("I8" / "U8" for integer values in range).
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

const Tensor* SafetensorsContents::find(std::string_view name) const {
  for (const auto& [tensor_name, tensor] : tensors) {
    if (tensor_name == name) return &tensor;
  }
  return nullptr;
}

std::string safetensors_checksum_text(std::uint32_t crc) {
  char text[16];
  std::snprintf(text, sizeof text, "crc32:%08x", static_cast<unsigned>(crc));
  return text;
}

void write_safetensors(const fs::path& path,
                       const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  write_safetensors(path, tensors, metadata, {});
}

void write_safetensors(const fs::path& path,
                       const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                       const std::map<std::string, std::string>& metadata,
                       const std::map<std::string, std::string>& dtypes) {
  const std::string checksum_key(kSafetensorsChecksumKey);
  require(!metadata.contains(checksum_key), "write_safetensors: the checksum is not the caller's to give");
  // The checksum goes in as zeros: the CRC covers the whole file with its digits read as zeros.
  std::map<std::string, std::string> full_metadata = metadata;
  full_metadata[checksum_key] = safetensors_checksum_text(0);

  // ordered_json keeps the header in the order tensors are laid out, for people reading it.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  header[std::string(kSafetensorsMetadataKey)] = full_metadata;
  // The data as it goes to the file: float32 as it lies in memory, the integer dtypes converted once.
  std::vector<std::vector<std::byte>> converted;
  converted.reserve(tensors.size());
  std::vector<std::span<const std::byte>> data;
  std::set<std::string_view> names;
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    require(tensor != nullptr, "write_safetensors: null tensor '" + name + "'");
    require(!name.empty() && name != kSafetensorsMetadataKey,
            "write_safetensors: invalid tensor name '" + name + "'");
    require(names.insert(name).second, "write_safetensors: tensor '" + name + "' given twice");
    const auto dtype = dtypes.find(name);
    const bool is_float = dtype == dtypes.end() || dtype->second == "F32";
    if (is_float) {
      data.push_back(std::as_bytes(tensor->values()));
    } else {
      converted.push_back(integer_bytes(name, *tensor, dtype->second));
      data.emplace_back(converted.back());
    }
    const std::uint64_t bytes = data.back().size();
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

  // Quotes inside JSON strings are escaped, so this text occurs only where the key is.
  const std::string zeros = "\"" + checksum_key + "\":\"" + safetensors_checksum_text(0) + "\"";
  const std::size_t at = text.find(zeros);
  require(at != std::string::npos, "write_safetensors: the checksum is missing from the header");
  std::uint32_t crc = crc32_update(crc32_update(0, length), text);
  for (const auto& bytes : data) crc = crc32_update(crc, bytes);
  const std::string checksum = safetensors_checksum_text(crc);
  text.replace(at + checksum_key.size() + 4, checksum.size(), checksum);

  AtomicFile file(path);
  file.write(length);
  file.write(text);
  for (const auto& bytes : data) file.write(bytes);
  file.commit();
}

}  // namespace dlrun
