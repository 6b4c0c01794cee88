#include <doctest/doctest.h>

#include <initializer_list>
#include <iterator>
#include <limits>

#include "core/errors.hpp"
#include "data/npy_reader.hpp"
#include "data/temp_files.hpp"
#include "support/fixtures.hpp"

using namespace dlrun;
using dlrun::testing::read_bytes;
using dlrun::testing::TempDir;
using dlrun::testing::test_data_path;

namespace {

std::filesystem::path npy(const std::string& name) {
  return test_data_path("files/" + name);
}

// An NPY version 1.0 file with the given header dictionary text and data bytes; the header is
// padded with spaces and a newline as numpy does.
std::string npy_bytes(const std::string& dictionary, const std::string& data) {
  std::string header = dictionary;
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string bytes = "\x93NUMPY";
  bytes += '\x01';
  bytes += '\x00';
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>(header.size() >> 8);
  return bytes + header + data;
}

// A one-dimensional NPY file of `values` with dtype `descr` ('<f4', '<i8', ...).
template <typename T>
std::string npy_vector(const std::string& descr, std::initializer_list<T> values) {
  return npy_bytes("{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" +
                       std::to_string(values.size()) + ",), }",
                   std::string(reinterpret_cast<const char*>(std::data(values)), values.size() * sizeof(T)));
}

using Floats = std::vector<float>;
using Strings = std::vector<std::string>;

}  // namespace

TEST_CASE("npy: float inputs with int64 labels become floats and sorted classes") {
  const Dataset dataset = read_npy(npy("x_f4.npy"), npy("y_i8.npy"), LabelKind::classes);
  CHECK(dataset.size() == 4);
  CHECK(dataset.sample_shape == Shape{3});
  Floats expected;
  for (int i = 0; i < 12; ++i) expected.push_back(static_cast<float>(i) / 4.0f);
  CHECK(dataset.floats == expected);
  CHECK(dataset.class_names == Strings{"-2", "5", "7"});  // values 5, -2, 5, 7
  CHECK(dataset.labels == std::vector<std::int32_t>{1, 0, 1, 2});
  CHECK(dataset.labels_per_sample == 1);

  CHECK(read_npy(npy("x_f8.npy"), npy("y_i4.npy"), LabelKind::classes).floats == expected);
  const Dataset u1_labels = read_npy(npy("x_f4.npy"), npy("y_u1.npy"), LabelKind::classes);
  CHECK(u1_labels.class_names == Strings{"0", "1", "2"});
  CHECK(u1_labels.labels == std::vector<std::int32_t>{2, 2, 0, 1});
}

TEST_CASE("npy: uint8 inputs stay uint8 with their sample shape") {
  const Dataset dataset = read_npy(npy("x_u1.npy"), npy("y_i4.npy"), LabelKind::classes);
  CHECK(dataset.sample_shape == Shape{1, 2, 2});
  CHECK(dataset.floats.empty());
  REQUIRE(dataset.bytes.size() == 16);
  CHECK(dataset.bytes[13] == 13);
  CHECK(dataset.size() == 4);
}

TEST_CASE("npy: regression targets keep the labels' shape without the first axis") {
  const Dataset scalar = read_npy(npy("x_f4.npy"), npy("y_f8.npy"), LabelKind::targets);
  CHECK(scalar.targets == Floats{0.5f, 1.5f, -2.0f, 3.25f});
  CHECK(scalar.target_shape == Shape{1});
  CHECK_FALSE(scalar.is_classification());
  const Dataset pairs = read_npy(npy("x_f4.npy"), npy("y_f4_2d.npy"), LabelKind::targets);
  CHECK(pairs.target_shape == Shape{2});
  CHECK(pairs.targets.size() == 8);
  // Integer labels with a regression loss are targets too.
  CHECK(read_npy(npy("x_f4.npy"), npy("y_i8.npy"), LabelKind::targets).targets == Floats{5, -2, 5, 7});
  // No labels file: inputs only.
  CHECK(read_npy(npy("x_f4.npy"), "", LabelKind::targets).targets.empty());
}

TEST_CASE("npy: integral float labels are classes; fractional ones are an error for classification") {
  TempDir dir;
  const auto labels = dir.write("y.npy", npy_vector("<f4", {3.0f, 1.0f}));
  const auto inputs = dir.write("x.npy", npy_vector("<f4", {0.0f, 1.0f}));
  const Dataset dataset = read_npy(inputs, labels, LabelKind::classes);
  CHECK(dataset.sample_shape == Shape{1});
  CHECK(dataset.class_names == Strings{"1", "3"});
  CHECK(dataset.labels == std::vector<std::int32_t>{1, 0});

  CHECK_THROWS_WITH_AS(read_npy(npy("x_f4.npy"), npy("y_f8.npy"), LabelKind::classes),
                       (npy("y_f8.npy").string() +
                        ": NPY labels file: element 0 is 0.5, but class labels must be integers (the task is "
                        "classification)")
                           .c_str(),
                       DataError);
}

// Found by fuzz_npy: an int64 label near 2^63 became the double 2^63, whose conversion back to
// int64 is undefined behaviour (UBSan). Labels from 2^53 on are refused: as doubles, two of them
// could become one class (2^53 + 1 reads as 2^53).
TEST_CASE("npy: integer class labels from 2^53 on are a DataError, not a wrong conversion") {
  TempDir dir;
  const auto inputs = dir.write("x.npy", npy_vector("<f4", {0.0f, 1.0f}));
  for (const std::int64_t big :
       {std::int64_t{9007199254740992}, std::int64_t{9007199254740993},
        std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::min()}) {
    CAPTURE(big);
    const auto labels = dir.write("y.npy", npy_vector("<i8", {std::int64_t{1}, big}));
    CHECK_THROWS_WITH_AS(read_npy(inputs, labels, LabelKind::classes),
                         doctest::Contains("NPY labels file: element 1 is "), DataError);
  }
  const auto labels = dir.write(
      "y.npy", npy_vector("<i8", {std::int64_t{9007199254740991}, std::int64_t{-9007199254740991}}));
  CHECK(read_npy(inputs, labels, LabelKind::classes).class_names ==
        Strings{"-9007199254740991", "9007199254740991"});
}

TEST_CASE("npy: malformed files give a DataError naming the file, with byte offsets") {
  TempDir dir;
  const std::string good = read_bytes(npy("x_f4.npy"));

  SUBCASE("fortran order") {
    const std::string bytes = read_bytes(npy("x_fortran.npy"));
    const std::size_t offset = bytes.find("True");
    CHECK_THROWS_WITH_AS(read_npy(npy("x_fortran.npy"), "", LabelKind::none),
                         (npy("x_fortran.npy").string() +
                          ": NPY inputs file: fortran_order arrays are not supported; save a C-ordered array "
                          "(numpy.ascontiguousarray) (byte offset " +
                          std::to_string(offset) + ")")
                             .c_str(),
                         DataError);
  }
  SUBCASE("big-endian or unknown dtypes") {
    CHECK_THROWS_WITH_AS(
        read_npy(npy("x_big_endian.npy"), "", LabelKind::none),
        (npy("x_big_endian.npy").string() +
         ": NPY inputs file: unsupported dtype '>f4'; supported: '<f4', '<f8', '|u1', '<i4', "
         "'<i8' (little-endian)")
            .c_str(),
        DataError);
    const auto half = dir.write(
        "half.npy",
        npy_bytes("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", std::string(4, '\0')));
    CHECK_THROWS_WITH_AS(read_npy(half, "", LabelKind::none), doctest::Contains("unsupported dtype '<f2'"),
                         DataError);
  }
  SUBCASE("more dimensions than a Shape holds") {
    const auto deep = dir.write(
        "deep.npy",
        npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }",
                  std::string(4, '\0')));
    CHECK_THROWS_WITH_AS(
        read_npy(deep, "", LabelKind::none),
        (deep.string() +
         ": NPY inputs file: shape (1, 1, 1, 1, 1, 1, 1, 1, 1) has 9 dimensions; dlrun supports "
         "at most 8")
            .c_str(),
        DataError);
  }
  SUBCASE("truncated data") {
    const auto file = dir.write("cut.npy", good.substr(0, good.size() - 4));
    CHECK_THROWS_WITH_AS(
        read_npy(file, "", LabelKind::none),
        (file.string() + ": NPY inputs file: truncated data: shape (4, 3) of '<f4' needs 48 bytes from byte "
                         "offset 128, but the file ends at byte offset 172")
            .c_str(),
        DataError);
  }
  SUBCASE("truncated header") {
    const auto file = dir.write("cut.npy", good.substr(0, 60));
    CHECK_THROWS_WITH_AS(
        read_npy(file, "", LabelKind::none),
        (file.string() +
         ": NPY inputs file: truncated header: it claims 118 bytes from byte offset 10, the file "
         "ends at byte offset 60")
            .c_str(),
        DataError);
  }
  SUBCASE("trailing bytes") {
    const auto file = dir.write("long.npy", good + "xy");
    CHECK_THROWS_WITH_AS(
        read_npy(file, "", LabelKind::none),
        (file.string() + ": NPY inputs file: 2 unexpected bytes after the data at byte offset 176").c_str(),
        DataError);
  }
  SUBCASE("not an NPY file") {
    const auto file = dir.write("x.npy", "PK\x03\x04 this is a zip");
    CHECK_THROWS_WITH_AS(
        read_npy(file, "", LabelKind::none),
        (file.string() +
         ": NPY inputs file: not an NPY file (expected the magic string \\x93NUMPY at byte offset 0)")
            .c_str(),
        DataError);
  }
  SUBCASE("strict header: a missing key, an unknown key, a broken tuple, garbage after the dictionary") {
    const auto missing =
        dir.write("a.npy", npy_bytes("{'descr': '<f4', 'shape': (2,), }", std::string(8, '\0')));
    CHECK_THROWS_WITH_AS(
        read_npy(missing, "", LabelKind::none),
        (missing.string() +
         ": NPY inputs file: the header lacks 'descr', 'fortran_order' or 'shape' (byte offset 43)")
            .c_str(),
        DataError);
    const auto unknown = dir.write(
        "b.npy",
        npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", std::string(8, '\0')));
    CHECK_THROWS_WITH_AS(
        read_npy(unknown, "", LabelKind::none),
        (unknown.string() + ": NPY inputs file: unexpected or repeated header key 'x' (byte offset 66)")
            .c_str(),
        DataError);
    const auto tuple = dir.write(
        "c.npy",
        npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2; 3), }", std::string(24, '\0')));
    CHECK_THROWS_WITH_AS(
        read_npy(tuple, "", LabelKind::none),
        (tuple.string() +
         ": NPY inputs file: malformed header: expected ',' or ')' in 'shape' (byte offset 62)")
            .c_str(),
        DataError);
    const auto garbage = dir.write(
        "d.npy",
        npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } extra", std::string(8, '\0')));
    CHECK_THROWS_WITH_AS(read_npy(garbage, "", LabelKind::none),
                         doctest::Contains("unexpected text after the header dictionary"), DataError);
  }
  SUBCASE("zero examples and 0-d arrays") {
    const auto empty =
        dir.write("e.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", ""));
    CHECK_THROWS_WITH_AS(read_npy(empty, "", LabelKind::none),
                         (empty.string() + ": NPY inputs file: contains no examples (shape (0, 3))").c_str(),
                         DataError);
    const auto scalar = dir.write(
        "s.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", std::string(4, '\0')));
    CHECK_THROWS_WITH_AS(read_npy(scalar, "", LabelKind::none), doctest::Contains("a 0-dimensional array"),
                         DataError);
  }
  SUBCASE("shapes whose byte count overflows, and empty dimensions, are refused before any allocation") {
    // 2^48 x 2^48 x 4 of '<f8' wraps around to 0 bytes in 64-bit arithmetic.
    const auto wraps =
        dir.write("w.npy", npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (281474976710656, "
                                     "281474976710656, 4), }",
                                     ""));
    CHECK_THROWS_WITH_AS(
        read_npy(wraps, "", LabelKind::none),
        (wraps.string() + ": NPY inputs file: truncated data: shape (281474976710656, "
                          "281474976710656, 4) of '<f8' needs more than 2^63 bytes from byte "
                          "offset 128, but the file ends at byte offset 128")
            .c_str(),
        DataError);
    const auto big = dir.write(
        "b.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000), }", "abcd"));
    CHECK_THROWS_WITH_AS(read_npy(big, "", LabelKind::none), doctest::Contains("needs 4000000000 bytes"),
                         DataError);
    const auto empty = dir.write(
        "z.npy",
        npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 281474976710656, 0), }", ""));
    CHECK_THROWS_WITH_AS(
        read_npy(empty, "", LabelKind::none),
        (empty.string() + ": NPY inputs file: shape (3, 281474976710656, 0) has an empty dimension").c_str(),
        DataError);
  }
  SUBCASE("a header longer than 64 KiB") {
    std::string bytes = "\x93NUMPY\x02";
    bytes += std::string("\x00\x01\x00\x01\x00", 5);  // version 2.0, header length 0x00010001
    const auto file = dir.write("long-header.npy", bytes + std::string(65537, ' '));
    CHECK_THROWS_WITH_AS(
        read_npy(file, "", LabelKind::none),
        (file.string() + ": NPY inputs file: header length 65537 is over the 64 KiB limit").c_str(),
        DataError);
  }
  SUBCASE("non-finite inputs") {
    const float values[2] = {1.0f, std::numeric_limits<float>::quiet_NaN()};
    const auto file =
        dir.write("nan.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                                       std::string(reinterpret_cast<const char*>(values), 8)));
    CHECK_THROWS_WITH_AS(
        read_npy(file, "", LabelKind::none),
        (file.string() + ": NPY inputs file: element 1 (example 1) is not a finite float32 value").c_str(),
        DataError);
  }
  SUBCASE("inputs and labels with different example counts name both files") {
    CHECK_THROWS_WITH_AS(read_npy(npy("x_f4.npy"), npy("y_f4_3rows.npy"), LabelKind::targets),
                         ("example count mismatch: inputs file " + npy("x_f4.npy").string() +
                          " has 4 examples, labels file " + npy("y_f4_3rows.npy").string() + " has 3")
                             .c_str(),
                         DataError);
  }
  SUBCASE("a missing labels file") {
    CHECK_THROWS_WITH_AS(read_npy(npy("x_f4.npy"), dir.path() / "y.npy", LabelKind::classes),
                         ((dir.path() / "y.npy").string() + ": NPY labels file not found").c_str(),
                         DataError);
  }
}
