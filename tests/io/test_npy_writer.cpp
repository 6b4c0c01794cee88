// io/npy_writer: .npy bytes that data/npy_reader (and numpy) read back exactly, with the header
// padded to 64 bytes as numpy writes it.
#include <doctest/doctest.h>

#include <cstring>

#include "data/npy_reader.hpp"
#include "io/npy_writer.hpp"
#include "support/temp_dir.hpp"

using namespace dlrun;
using dlrun::testing::TempDir;

namespace {

std::vector<float> floats_of(const NpyArray& array) {
  std::vector<float> values(array.bytes.size() / sizeof(float));
  std::memcpy(values.data(), array.bytes.data(), array.bytes.size());
  return values;
}

}  // namespace

TEST_CASE("npy writer: 1-D, 2-D and 3-D float32 arrays read back exactly; data starts at 64 bytes") {
  TempDir dir;
  const std::vector<float> values{0.5f, -1.25f, 3.0e-8f, 7.0f, 1.0e30f, -0.0f};
  const std::vector<std::vector<Index>> shapes{{6}, {2, 3}, {3, 1, 2}};
  for (const auto& shape : shapes) {
    const std::string bytes = npy_float32_bytes(shape, values);
    CHECK(bytes.rfind("\x93NUMPY\x01\x00", 0) == 0);
    const std::size_t header =
        static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    CHECK((10 + header) % 64 == 0);
    CHECK(bytes[9 + header] == '\n');
    const auto path = dir.write("a.npy", bytes);
    const NpyArray array = read_npy_array(path, "array");
    CHECK(array.dtype == "<f4");
    CHECK(array.shape == shape);
    CHECK(floats_of(array) == values);
  }
  // The 1-D shape is written (6,), as Python spells a 1-tuple.
  CHECK(npy_float32_bytes({6}, values).find("'shape': (6,), }") != std::string::npos);
  CHECK(npy_float32_bytes({0, 3}, {}).find("'shape': (0, 3), }") != std::string::npos);
}
