#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "core/errors.hpp"
#include "io/files.hpp"
#include "io/safetensors.hpp"
#include "io/safetensors_read_error.hpp"
#include "io/safetensors_test_support.hpp"
#include "support/fixtures.hpp"
#include "support/messages.hpp"
#include "support/temp_dir.hpp"

using namespace dlrun;
using testing::contains;
using testing::le64;
using testing::make_file;
using testing::read_bytes;
using testing::safetensors_read_error;
using testing::TempDir;
using testing::write_bytes;

namespace {

std::string floats(std::initializer_list<float> values) {
  std::string bytes;
  for (const float v : values) bytes.append(reinterpret_cast<const char*>(&v), sizeof v);
  return bytes;
}

bool same_bits(float a, float b) {
  return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
}

}  // namespace

TEST_CASE("safetensors: round trip keeps names, order, shapes, exact bits and metadata") {
  TempDir dir;
  Tensor weight(Shape{2, 3});
  const float specials[] = {1.5f,
                            -0.0f,
                            std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::denorm_min(),
                            -3.25e-7f};
  for (Index i = 0; i < 6; ++i) weight[i] = specials[i];
  Tensor bias(Shape{2}, 0.5f);
  Tensor scalar(Shape{}, 7.0f);
  Tensor empty(Shape{0, 3});
  const std::map<std::string, std::string> metadata = {
      {"format", "dlrun-checkpoint-1"}, {"config", "name: x\nlayers: [\"é\", 1]\n"}, {"epoch", "3"}};
  // Names deliberately not in alphabetical order: file order must follow the given order.
  const std::vector<std::pair<std::string, const Tensor*>> tensors = {
      {"fc1.weight", &weight}, {"fc1.bias", &bias}, {"a.scalar", &scalar}, {"empty", &empty}};
  const auto path = dir / "model.safetensors";
  write_safetensors(path, tensors, metadata);

  const std::string bytes = read_bytes(path);
  std::uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);
  CHECK(header_size % 8 == 0);
  CHECK(bytes[8] == '{');
  CHECK(bytes.size() == 8 + header_size + (6 + 2 + 1) * 4);

  const auto contents = read_safetensors(path);
  CHECK(contents.metadata == metadata);  // the checksum is not part of it
  CHECK(contents.checksum.has_value());
  CHECK(contains(bytes, "\"checksum\":\"" + safetensors_checksum_text(*contents.checksum) + "\""));
  REQUIRE(contents.tensors.size() == 4);
  CHECK(contents.tensors[0].first == "fc1.weight");
  CHECK(contents.tensors[1].first == "fc1.bias");
  CHECK(contents.tensors[2].first == "a.scalar");
  const Tensor* read_weight = contents.find("fc1.weight");
  REQUIRE(read_weight != nullptr);
  CHECK(read_weight->shape() == Shape{2, 3});
  for (Index i = 0; i < 6; ++i) CHECK(same_bits((*read_weight)[i], weight[i]));
  CHECK(contents.find("fc1.bias")->shape() == Shape{2});
  CHECK((*contents.find("fc1.bias"))[1] == 0.5f);
  CHECK(contents.find("a.scalar")->shape() == Shape{});
  CHECK((*contents.find("a.scalar"))[0] == 7.0f);
  CHECK(contents.find("empty")->shape() == Shape{0, 3});
  CHECK(contents.find("missing") == nullptr);
}

TEST_CASE("safetensors: writing replaces the old file atomically and leaves no temporary") {
  TempDir dir;
  const auto path = dir / "last.safetensors";
  Tensor first(Shape{1}, 1.0f);
  Tensor second(Shape{3}, 2.0f);
  write_safetensors(path, {{"x", &first}}, {});
  write_safetensors(path, {{"x", &second}}, {{"epoch", "2"}});
  const auto contents = read_safetensors(path);
  CHECK(contents.find("x")->shape() == Shape{3});
  CHECK(contents.metadata.at("epoch") == "2");
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), {}) == 1);
}

TEST_CASE("safetensors: a failed write throws OutputError and keeps the previous checkpoint") {
  TempDir dir;
  const auto path = dir / "last.safetensors";
  Tensor old_value(Shape{2}, 1.0f);
  write_safetensors(path, {{"x", &old_value}}, {{"epoch", "1"}});
  const std::string old_bytes = read_bytes(path);
  Tensor new_value(Shape{2}, 9.0f);

  SUBCASE("the temporary cannot be created") {
    // Root ignores permissions, so the temporary's name is blocked by a folder instead.
    std::filesystem::create_directory(temporary_path_for(path));
    try {
      write_safetensors(path, {{"x", &new_value}}, {});
      FAIL("no OutputError");
    } catch (const OutputError& e) {
      CHECK(contains(e.what(), path.string()));
      CHECK(contains(e.what(), "Is a directory"));
    }
    CHECK(std::filesystem::is_directory(temporary_path_for(path)));  // not ours: left alone
  }
  SUBCASE("the folder does not exist") {
    const auto missing = dir / "no-such-folder" / "last.safetensors";
    CHECK_THROWS_AS(write_safetensors(missing, {{"x", &new_value}}, {}), OutputError);
    CHECK_FALSE(std::filesystem::exists(dir / "no-such-folder"));
  }
  CHECK(read_bytes(path) == old_bytes);
  CHECK((*read_safetensors(path).find("x"))[0] == 1.0f);
}

TEST_CASE("safetensors: a failed rename removes the temporary") {
  TempDir dir;
  const auto path = dir / "best.safetensors";
  std::filesystem::create_directories(path / "occupied");  // rename(2) cannot replace a non-empty folder
  Tensor value(Shape{2}, 1.0f);
  CHECK_THROWS_AS(write_safetensors(path, {{"x", &value}}, {}), OutputError);
  CHECK_FALSE(std::filesystem::exists(temporary_path_for(path)));
}

TEST_CASE("safetensors: reading F16, BF16 and F64 converts to float32") {
  TempDir dir;
  std::string data;
  for (const std::uint16_t half : {0x3C00, 0xC000, 0x0001, 0x7C00, 0x8000}) {
    data.append(reinterpret_cast<const char*>(&half), 2);
  }
  for (const std::uint16_t bf16 : {0x3F80, 0x4049}) data.append(reinterpret_cast<const char*>(&bf16), 2);
  const double value = 0.1;
  data.append(reinterpret_cast<const char*>(&value), 8);
  const std::string header = R"({"h":{"dtype":"F16","shape":[5],"data_offsets":[0,10]},)"
                             R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[10,14]},)"
                             R"("d":{"dtype":"F64","shape":[1,1],"data_offsets":[14,22]}})";
  const auto path = dir / "mixed.safetensors";
  write_bytes(path, make_file(header, data));
  const auto contents = read_safetensors(path);
  const Tensor& h = *contents.find("h");
  CHECK(h[0] == 1.0f);
  CHECK(h[1] == -2.0f);
  CHECK(h[2] == std::ldexp(1.0f, -24));  // the smallest subnormal half
  CHECK(std::isinf(h[3]));
  CHECK(std::signbit(h[4]));
  CHECK((*contents.find("b"))[0] == 1.0f);
  CHECK((*contents.find("b"))[1] == 3.140625f);
  CHECK((*contents.find("d"))[0] == 0.1f);
  CHECK(contents.find("d")->shape() == Shape{1, 1});
}

TEST_CASE("safetensors: every malformed file is a DataError naming the file") {
  TempDir dir;
  const auto path = dir / "bad.safetensors";
  const std::string eight = floats({1.0f, 2.0f});
  const auto tensor = [](std::string_view body) { return std::string(R"({"t":)") + std::string(body) + "}"; };

  struct Case {
    const char* what;
    std::string bytes;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {"empty file", "", "too short"},
      {"shorter than 8 bytes", "\x05\0\0\0\0", "too short"},
      {"header length past the end", make_file("{}", "", 100), "exceeds the file size"},
      {"header length absurd", make_file("{}", "", std::uint64_t{1} << 62), "16 MiB limit"},
      {"header length just over 16 MiB", make_file("{}", "", (16 << 20) + 1), "16 MiB limit"},
      {"header not JSON", make_file("not json"), "not valid JSON"},
      {"header cut mid-JSON", make_file(R"({"t":{"dtype":"F32")"), "not valid JSON"},
      {"garbage after the JSON", make_file("{} x"), "not valid JSON"},
      {"invalid UTF-8 in the header", make_file("{\"\xff\":1}"), "not valid JSON"},
      {"header is an array", make_file("[1, 2]"), "not a JSON object"},
      {"header is a string", make_file(R"("abc")"), "not a JSON object"},
      {"entry is not an object", make_file(R"({"t": 5})"), "not a JSON object"},
      {"missing dtype", make_file(tensor(R"({"shape":[2],"data_offsets":[0,8]})"), eight), "missing 'dtype'"},
      {"missing shape", make_file(tensor(R"({"dtype":"F32","data_offsets":[0,8]})"), eight),
       "missing 'shape'"},
      {"missing data_offsets", make_file(tensor(R"({"dtype":"F32","shape":[2]})"), eight),
       "missing 'data_offsets'"},
      {"dtype not a string", make_file(tensor(R"({"dtype":4,"shape":[2],"data_offsets":[0,8]})"), eight),
       "'dtype' is not a string"},
      {"dtype I64", make_file(tensor(R"({"dtype":"I64","shape":[1],"data_offsets":[0,8]})"), eight),
       "dtype I64"},
      {"dtype unknown", make_file(tensor(R"({"dtype":"Q4","shape":[2],"data_offsets":[0,8]})"), eight),
       "dtype Q4"},
      {"shape not an array", make_file(tensor(R"({"dtype":"F32","shape":2,"data_offsets":[0,8]})"), eight),
       "'shape' is not an array"},
      {"negative dimension", make_file(tensor(R"({"dtype":"F32","shape":[-2],"data_offsets":[0,8]})"), eight),
       "not a non-negative integer"},
      {"fractional dimension",
       make_file(tensor(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,8]})"), eight),
       "not a non-negative integer"},
      {"string dimension", make_file(tensor(R"({"dtype":"F32","shape":["2"],"data_offsets":[0,8]})"), eight),
       "not a non-negative integer"},
      {"dimension beyond int64",
       make_file(tensor(R"({"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,8]})"), eight),
       "not a non-negative integer"},
      {"shape of rank 9",
       make_file(tensor(R"({"dtype":"F32","shape":[1,1,1,1,1,1,1,1,2],"data_offsets":[0,8]})"), eight),
       "shape has more than 8 dimensions"},
      {"element count does not match",
       make_file(tensor(R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})"), eight), "does not match"},
      {"huge shape whose product overflows",
       make_file(tensor(R"({"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]})"), eight),
       "the product of its dimensions overflows"},
      {"data_offsets not a pair",
       make_file(tensor(R"({"dtype":"F32","shape":[2],"data_offsets":[0]})"), eight), "not [begin, end]"},
      {"data_offsets not integers",
       make_file(tensor(R"({"dtype":"F32","shape":[2],"data_offsets":[0,"8"]})"), eight),
       "non-negative integers"},
      {"negative data_offsets",
       make_file(tensor(R"({"dtype":"F32","shape":[2],"data_offsets":[-8,0]})"), eight),
       "non-negative integers"},
      {"data_offsets reversed",
       make_file(tensor(R"({"dtype":"F32","shape":[0],"data_offsets":[8,0]})"), eight),
       "end before they begin"},
      {"data_offsets past the data",
       make_file(tensor(R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})"), eight),
       "past the data area"},
      {"data truncated", make_file(tensor(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})"), "1234"),
       "past the data area"},
      {"overlapping tensors",
       make_file(
           R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
           floats({1, 2, 3})),
       "overlap"},
      {"duplicated tensor name",
       make_file(
           R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
           eight),
       "appears twice"},
      {"empty tensor name", make_file(R"({"":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", eight),
       "empty name"},
      {"metadata value not a string", make_file(R"({"__metadata__":{"epoch":3}})"),
       "'epoch' is not a string"},
      {"metadata not an object", make_file(R"({"__metadata__":["a"]})"), "__metadata__ is not a JSON object"},
      {"a gap between tensors",
       make_file(
           R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
           floats({1, 2, 3})),
       "tensor 'b': data_offsets [8, 12] leave a gap of 4 bytes after tensor 'a'"},
      {"trailing bytes", make_file(tensor(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})"), eight),
       "4 trailing bytes after the last tensor's data"},
      {"data but no tensors", make_file("{}", eight), "8 trailing bytes"},
      {"a dlrun checkpoint without its checksum",
       make_file(R"({"__metadata__":{"format":"dlrun-checkpoint-1"}})"), "__metadata__ has no checksum"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    write_bytes(path, c.bytes);
    const std::string message = safetensors_read_error(path);
    CHECK(message.starts_with(path.string() + ": "));
    CHECK_MESSAGE(contains(message, c.expected), message);
  }

  SUBCASE("a missing file and a folder") {
    CHECK(contains(safetensors_read_error(dir / "absent.safetensors"), "No such file or directory"));
    CHECK(contains(safetensors_read_error(dir.path()), "not a regular file"));
  }
}

TEST_CASE("safetensors: a shape of a million nested lists is a DataError, not a stack overflow") {
  // Found while fuzzing (docs/security.md): the message used to print the shape with json::dump,
  // which recurses once per level. 2 MB of header, well under the 100 MB limit.
  TempDir dir;
  const std::size_t depth = 1000000;
  const auto path = dir / "deep.safetensors";
  write_bytes(path, make_file(R"({"t":{"dtype":"F32","shape":)" + std::string(depth, '[') +
                              std::string(depth, ']') + R"(,"data_offsets":[0,0]}})"));
  CHECK(safetensors_read_error(path) ==
        path.string() + ": tensor 't': shape dimension 0 (a list) is not a non-negative integer");
  write_bytes(path,
              make_file(R"({"t":{"dtype":"F32","shape":[2,"two"],"data_offsets":[0,8]}})", floats({1, 2})));
  CHECK(safetensors_read_error(path) ==
        path.string() + ": tensor 't': shape dimension 1 (\"two\") is not a non-negative integer");
}

namespace {

// `valid` with one random change of the kind `variant % 5` picks (truncation, bit flips, a header
// byte replaced, a header digit bumped). The result may equal `valid` (two flips of one bit).
std::string mutated(const std::string& valid, int variant, std::mt19937& rng) {
  const auto uniform = [&](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
  };
  std::uint64_t header_size = 0;
  std::memcpy(&header_size, valid.data(), 8);
  const std::size_t header_end = 8 + static_cast<std::size_t>(header_size);
  std::string bytes = valid;
  switch (variant % 5) {
    case 0:  // truncation anywhere
      bytes.resize(uniform(bytes.size()));
      break;
    case 1:  // one flipped bit anywhere
      bytes[uniform(bytes.size())] ^= static_cast<char>(1 << uniform(8));
      break;
    case 2:  // one to four flipped bits in the length field and header
      for (std::size_t k = 0, n = 1 + uniform(4); k < n; ++k) {
        bytes[uniform(header_end)] ^= static_cast<char>(1 << uniform(8));
      }
      break;
    case 3:  // a header byte replaced by a JSON-significant character
      bytes[8 + uniform(header_end - 8)] = "{}[]\",:-0123456789 eE."[uniform(22)];
      break;
    case 4:  // a digit of the header bumped: offsets and shapes that lie by a little
      for (std::size_t tries = 0; tries < 100; ++tries) {
        const std::size_t at = 8 + uniform(header_end - 8);
        if (bytes[at] >= '0' && bytes[at] <= '9') {
          bytes[at] = static_cast<char>('0' + (bytes[at] - '0' + 1 + uniform(9)) % 10);
          break;
        }
      }
      break;
  }
  return bytes;
}

}  // namespace

TEST_CASE("safetensors: fuzzed truncations and bit flips give a DataError or a valid read, never a crash") {
  TempDir dir;
  Tensor weight(Shape{4, 3}, 0.25f);
  Tensor bias(Shape{4}, -1.0f);
  Tensor scalar(Shape{}, 2.0f);
  const auto path = dir / "fuzzed.safetensors";
  std::mt19937 rng(20240517);

  SUBCASE("with a checksum (every file dlrun writes), every change is rejected") {
    write_safetensors(path, {{"fc.weight", &weight}, {"fc.bias", &bias}, {"step", &scalar}},
                      {{"format", "dlrun-checkpoint-1"}, {"epoch", "12"}});
    const std::string valid = read_bytes(path);
    int changed = 0;
    for (int variant = 0; variant < 500; ++variant) {
      const std::string bytes = mutated(valid, variant, rng);
      write_bytes(path, bytes);
      if (bytes == valid) {
        CHECK(safetensors_read_error(path) == "no error");
        continue;
      }
      ++changed;
      const std::string message = safetensors_read_error(path);
      CHECK_MESSAGE(message.starts_with(path.string() + ": "), "variant " << variant << ": " << message);
    }
    CHECK(changed > 490);
  }
  SUBCASE("without one (a file from elsewhere), a change is a DataError or a valid read") {
    const std::string data = floats({0.25f, 0.5f, -1.0f, 2.0f, 3.0f});
    const std::string valid = make_file(R"({"fc.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
                                        R"("step":{"dtype":"F32","shape":[],"data_offsets":[16,20]}})",
                                        data);
    int rejected = 0;
    int accepted = 0;
    for (int variant = 0; variant < 500; ++variant) {
      const std::string bytes = mutated(valid, variant, rng);
      write_bytes(path, bytes);
      try {
        const auto contents = read_safetensors(path);
        for (const auto& [name, tensor] : contents.tensors)
          CHECK(tensor.size() * 4 <= static_cast<Index>(bytes.size()));
        ++accepted;
      } catch (const DataError& e) {
        CHECK(std::string(e.what()).starts_with(path.string() + ": "));
        ++rejected;
      } catch (const std::exception& e) {
        FAIL("variant " << variant << " threw a non-DataError: " << e.what());
      }
    }
    MESSAGE("fuzz without a checksum: " << rejected << " rejected, " << accepted << " accepted");
    CHECK(rejected > 250);
    CHECK(accepted > 0);
  }
}

TEST_CASE("safetensors: reads a file written from a PyTorch state_dict") {
  // Written by scripts/fixtures/safetensors_interop.py (its own writer, byte for byte the format).
  const auto path = testing::test_data_path("fixtures/io/torch_written.safetensors");
  const auto expected = testing::load_fixture("fixtures/io/torch_written.json");
  const auto contents = read_safetensors(path);
  CHECK(contents.metadata == expected.at("metadata").get<std::map<std::string, std::string>>());
  REQUIRE(contents.tensors.size() == expected.at("tensors").size());
  for (const auto& [name, value] : expected.at("tensors").items()) {
    CAPTURE(name);
    const Tensor* tensor = contents.find(name);
    REQUIRE(tensor != nullptr);
    const Tensor reference = testing::tensor_from_json(value);
    REQUIRE(tensor->shape() == reference.shape());
    for (Index i = 0; i < tensor->size(); ++i) CHECK(same_bits((*tensor)[i], reference[i]));
  }
}
