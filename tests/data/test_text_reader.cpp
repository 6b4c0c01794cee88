#include <doctest/doctest.h>

#include "core/errors.hpp"
#include "data/temp_files.hpp"
#include "data/text_reader.hpp"
#include "support/fixtures.hpp"

using namespace dlrun;
using dlrun::testing::TempDir;
using dlrun::testing::test_data_path;

TEST_CASE("text: sorted byte vocabulary, non-overlapping windows, next-character labels") {
  const auto path = test_data_path("files/hello.txt");  // "hello world", 11 bytes
  const Dataset dataset = read_text(path, 3);
  CHECK(dataset.class_names == std::vector<std::string>{" ", "d", "e", "h", "l", "o", "r", "w"});
  CHECK(dataset.token_ids);
  CHECK(dataset.sample_shape == Shape{3});
  CHECK(dataset.labels_per_sample == 3);
  CHECK(dataset.size() == 3);  // (11 - 1) / 3 windows: "hel", "lo ", "wor"; "ld" is left over
  // Token ids: ' '=0 d=1 e=2 h=3 l=4 o=5 r=6 w=7.
  CHECK(dataset.bytes == std::vector<std::uint8_t>{3, 2, 4, 4, 5, 0, 7, 5, 6});
  // Labels: "ell", "o w", "orl".
  CHECK(dataset.labels == std::vector<std::int32_t>{2, 4, 4, 5, 0, 7, 5, 6, 4});
  CHECK(dataset.floats.empty());
  CHECK(dataset.source == path.string());
}

TEST_CASE("text: exactly T + 1 bytes make one example; fewer is a DataError") {
  TempDir dir;
  const Dataset one = read_text(dir.write("a.txt", "abab"), 3);
  CHECK(one.size() == 1);
  CHECK(one.bytes == std::vector<std::uint8_t>{0, 1, 0});
  CHECK(one.labels == std::vector<std::int32_t>{1, 0, 1});

  const auto short_file = dir.write("b.txt", "abc");
  CHECK_THROWS_WITH_AS(
      read_text(short_file, 3),
      (short_file.string() + ": text file has 3 bytes; sequence_length 3 needs at least 4").c_str(),
      DataError);
  const auto empty = dir.write("c.txt", "");
  CHECK_THROWS_WITH_AS(
      read_text(empty, 1),
      (empty.string() + ": text file has 0 bytes; sequence_length 1 needs at least 2").c_str(), DataError);
  CHECK_THROWS_AS(read_text(dir.path() / "missing.txt", 3), DataError);
  CHECK_THROWS_AS(read_text(short_file, 0), ConfigError);
}

TEST_CASE("text: bytes are tokens, including non-ASCII and control bytes") {
  TempDir dir;
  const Dataset dataset = read_text(dir.write("u.txt", std::string("\xc3\xa9\n\xc3\xa9\n", 6)), 2);
  CHECK(dataset.class_names == std::vector<std::string>{"\n", "\xa9", "\xc3"});
  CHECK(dataset.bytes == std::vector<std::uint8_t>{2, 1, 0, 2});
  CHECK(dataset.labels == std::vector<std::int32_t>{1, 0, 2, 1});
}
