#include "e2e/checkpoint_compare.hpp"

#include <doctest/doctest.h>

#include "io/safetensors.hpp"

namespace dlrun::testing {

std::map<std::string, std::string> tensor_bytes(const std::filesystem::path& checkpoint) {
  std::map<std::string, std::string> bytes;
  for (const auto& [name, tensor] : read_safetensors(checkpoint).tensors) {
    const auto raw = std::as_bytes(tensor.values());
    bytes[name] =
        tensor.shape().to_string() + ":" + std::string(reinterpret_cast<const char*>(raw.data()), raw.size());
  }
  return bytes;
}

bool check_same_tensors(const std::filesystem::path& expected, const std::filesystem::path& actual) {
  const auto a = tensor_bytes(expected);
  const auto b = tensor_bytes(actual);
  std::string names_a;
  std::string names_b;
  for (const auto& item : a) names_a += item.first + " ";
  for (const auto& item : b) names_b += item.first + " ";
  CHECK(names_a == names_b);
  bool same = names_a == names_b && !a.empty();
  for (const auto& [name, value] : a) {
    const auto other = b.find(name);
    if (other == b.end()) continue;
    CHECK_MESSAGE(other->second == value,
                  "tensor " << name << " differs between " << expected << " and " << actual);
    same = same && other->second == value;
  }
  return same;
}

}  // namespace dlrun::testing
