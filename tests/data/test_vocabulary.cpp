#include <doctest/doctest.h>

#include <cmath>
#include <numeric>

#include "core/errors.hpp"
#include "data/load.hpp"
#include "data/text_reader.hpp"
#include "data/vocabulary.hpp"
#include "support/fixtures.hpp"
#include "support/messages.hpp"
#include "support/temp_dir.hpp"

using namespace dlrun;

TEST_CASE("vocabulary: the characters of text data in token-id order; ids, encoding, unknowns") {
  const Dataset text = read_text(testing::test_data_path("files/hello.txt"), 3);  // "hello world"
  const auto vocabulary = Vocabulary::of(text);
  REQUIRE(vocabulary.has_value());
  CHECK(vocabulary->size() == 8);
  CHECK(vocabulary->bytes() == std::vector<std::uint8_t>{' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w'});
  CHECK(vocabulary->id('h') == 3);
  CHECK(vocabulary->id('z') == -1);
  CHECK(vocabulary->character(7) == 'w');
  CHECK(vocabulary->encode("hold") == std::vector<std::int32_t>{3, 5, 4, 1});
  CHECK(vocabulary->first_unknown("hello") == std::string_view::npos);
  CHECK(vocabulary->first_unknown("help!") == 3);
  CHECK_THROWS_AS(vocabulary->encode("help"), InternalError);

  Dataset table;  // not text: no vocabulary
  table.sample_shape = Shape{2};
  CHECK_FALSE(Vocabulary::of(table).has_value());
  CHECK_THROWS_AS(Vocabulary(std::vector<std::uint8_t>{'a', 'b', 'a'}), InternalError);
}

TEST_CASE("vocabulary: characters in messages") {
  CHECK(describe_character('a') == "'a'");
  CHECK(describe_character('\n') == "'\\n'");
  CHECK(describe_character(0xc3) == "byte 0xc3");
}

TEST_CASE("vocabulary: unigram entropy of the labels of the given rows, in bits") {
  // "abab" + "aaaa" in windows of 2: labels "ba", "ba" | "aa", "aa"... built by hand instead.
  Dataset dataset;
  dataset.token_ids = true;
  dataset.class_names = {"a", "b", "c", "d"};
  dataset.sample_shape = Shape{4};
  dataset.labels_per_sample = 4;
  dataset.bytes.assign(8, 0);
  dataset.labels = {0, 1, 2, 3,   // row 0: four characters once each: 2 bits
                    0, 0, 0, 0};  // row 1: one character: 0 bits
  CHECK(unigram_entropy_bits(dataset, std::vector<Index>{0}) == doctest::Approx(2.0));
  CHECK(unigram_entropy_bits(dataset, std::vector<Index>{1}) == doctest::Approx(0.0));
  // Both rows: p(a) = 5/8, p(b) = p(c) = p(d) = 1/8.
  const double expected = -(5.0 / 8 * std::log2(5.0 / 8) + 3 * (1.0 / 8 * std::log2(1.0 / 8)));
  CHECK(unigram_entropy_bits(dataset, std::vector<Index>{0, 1}) == doctest::Approx(expected));
  CHECK(unigram_entropy_bits(dataset, std::vector<Index>{}) == 0.0);
  CHECK(nats_to_bits(std::log(2.0)) == doctest::Approx(1.0));
}

TEST_CASE("vocabulary: a test text with a character the training text lacks is a DataError naming it") {
  testing::TempDir dir;
  const Dataset train = read_text(dir.write("train.txt", "abcabcabc\n"), 3);
  Dataset subset = read_text(dir.write("subset.txt", "cabcab"), 3);
  align_with_train(train, subset);  // fewer characters are fine: ids are remapped onto train's
  CHECK(subset.class_names == train.class_names);
  CHECK(subset.bytes == std::vector<std::uint8_t>{3, 1, 2});  // '\n'=0 a=1 b=2 c=3

  const auto other_path = dir.write("test.txt", "abcdab");
  Dataset other = read_text(other_path, 3);
  const std::string message = testing::message_of([&] { align_with_train(train, other); });
  CHECK(message == other_path.string() + ": character 'd' is not in the vocabulary of the training text " +
                       (dir / "train.txt").string() +
                       " (4 characters); dlrun has no unknown-character token: replace or remove it");
  CHECK_THROWS_AS(align_with_train(train, other), DataError);
}
