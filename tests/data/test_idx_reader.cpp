#include <doctest/doctest.h>

#include "core/errors.hpp"
#include "data/idx_reader.hpp"
#include "data/temp_files.hpp"
#include "support/fixtures.hpp"

using namespace dlrun;
using dlrun::testing::idx_bytes;
using dlrun::testing::TempDir;
using dlrun::testing::test_data_path;

namespace {

std::vector<std::uint8_t> tiny_pixels() {
  std::vector<std::uint8_t> pixels;
  for (int i = 0; i < 4; ++i) {
    for (int k = 0; k < 6; ++k) pixels.push_back(static_cast<std::uint8_t>(10 * i + k));
  }
  return pixels;
}

}  // namespace

TEST_CASE("idx: 3-D images and gzipped labels; classes are the sorted distinct label values") {
  const auto images = test_data_path("files/tiny-images-idx3-ubyte");
  const auto labels = test_data_path("files/tiny-labels-idx1-ubyte.gz");
  const Dataset dataset = read_idx(images, labels);
  CHECK(dataset.size() == 4);
  CHECK(dataset.sample_shape == Shape{1, 2, 3});
  CHECK(dataset.bytes == tiny_pixels());
  CHECK(dataset.floats.empty());
  CHECK(dataset.class_names == std::vector<std::string>{"0", "1", "3"});
  CHECK(dataset.labels == std::vector<std::int32_t>{1, 0, 2, 1});  // label values 1, 0, 3, 1
  CHECK(dataset.labels_per_sample == 1);
  CHECK(dataset.raw(2, 5) == 25.0f);
  CHECK(dataset.source == images.string() + " + " + labels.string());
}

TEST_CASE("idx: gzip is detected by the magic bytes, not the file name") {
  const auto labels = test_data_path("files/tiny-labels-idx1-ubyte.gz");
  const Dataset plain = read_idx(test_data_path("files/tiny-images-idx3-ubyte"), labels);
  const Dataset gzipped = read_idx(test_data_path("files/tiny-images-gzipped.idx"), labels);
  CHECK(gzipped.bytes == plain.bytes);
  CHECK(gzipped.sample_shape == plain.sample_shape);
}

TEST_CASE("idx: 2-D images are feature vectors, 4-D are (C, H, W); labels are optional") {
  const Dataset features = read_idx(test_data_path("files/tiny-features-idx2-ubyte"), "");
  CHECK(features.sample_shape == Shape{5});
  CHECK(features.size() == 4);
  CHECK_FALSE(features.is_classification());

  TempDir dir;
  const auto four = dir.write("four", idx_bytes({2, 3, 1, 2}, std::vector<std::uint8_t>(12, 7)));
  const Dataset images = read_idx(four, "");
  CHECK(images.sample_shape == Shape{3, 1, 2});
  CHECK(images.size() == 2);
}

TEST_CASE("idx: malformed files give a DataError naming the file and the problem") {
  TempDir dir;
  const auto labels = dir.write("labels", idx_bytes({2}, {0, 1}));

  SUBCASE("missing file") {
    const auto missing = dir.path() / "nope.idx";
    CHECK_THROWS_WITH_AS(read_idx(missing, labels),
                         (missing.string() + ": IDX images file not found").c_str(), DataError);
  }
  SUBCASE("a folder") {
    CHECK_THROWS_WITH_AS(read_idx(dir.path(), labels),
                         (dir.path().string() + ": IDX images file is a directory, not a file").c_str(),
                         DataError);
  }
  SUBCASE("wrong magic") {
    const auto file = dir.write("image.pgm", "P5\n2 2\n255\n....");
    CHECK_THROWS_WITH_AS(
        read_idx(file, labels),
        (file.string() + ": IDX images file: not an IDX file: magic bytes 0x50 0x35 0x0a 0x32 "
                         "(expected 0x00 0x00 <type> <dimensions>)")
            .c_str(),
        DataError);
  }
  SUBCASE("unsupported type") {
    const auto file = dir.write("floats", idx_bytes({2, 1}, std::vector<std::uint8_t>(8, 0), 0x0D));
    CHECK_THROWS_WITH_AS(
        read_idx(file, labels),
        (file.string() + ": IDX images file: unsupported IDX type 0x0d (float32); dlrun reads "
                         "unsigned byte (0x08) IDX files")
            .c_str(),
        DataError);
  }
  SUBCASE("truncated header") {
    const auto file = dir.write("short", idx_bytes({2, 2, 2}, {}).substr(0, 8));
    CHECK_THROWS_WITH_AS(
        read_idx(file, labels),
        (file.string() +
         ": IDX images file: truncated IDX header: 3 dimensions need 16 bytes, the file has 8")
            .c_str(),
        DataError);
  }
  SUBCASE("truncated data, with the byte offsets") {
    const auto file = dir.write("truncated", idx_bytes({2, 2, 2}, {1, 2, 3, 4, 5}));
    CHECK_THROWS_WITH_AS(
        read_idx(file, labels),
        (file.string() + ": IDX images file: truncated data: dimensions 2 x 2 x 2 need 8 bytes "
                         "from byte offset 16, but the file ends at byte offset 21")
            .c_str(),
        DataError);
  }
  SUBCASE("truncated data inside a valid gzip stream says the offsets are decompressed ones") {
    const auto file = dir.write_gzip("truncated.gz", idx_bytes({2, 2, 2}, {1, 2, 3}));
    CHECK_THROWS_WITH_AS(
        read_idx(file, labels),
        (file.string() + ": IDX images file (gzip; offsets are decompressed): truncated data: "
                         "dimensions 2 x 2 x 2 need 8 bytes from byte offset 16, but the file "
                         "ends at byte offset 19")
            .c_str(),
        DataError);
  }
  SUBCASE("a cut-off gzip stream") {
    const std::string gz = dlrun::testing::read_bytes(test_data_path("files/tiny-images-gzipped.idx"));
    const auto file = dir.write("cut.gz", gz.substr(0, gz.size() - 12));
    CHECK_THROWS_WITH_AS(
        read_idx(file, labels),
        doctest::Contains((file.string() + ": corrupt gzip data in IDX images file").c_str()), DataError);
  }
  SUBCASE("bytes after the data") {
    const auto file = dir.write("long", idx_bytes({2, 1, 1}, {1, 2, 3}));
    CHECK_THROWS_WITH_AS(
        read_idx(file, labels),
        (file.string() + ": IDX images file: 1 unexpected bytes after the data at byte offset 18 "
                         "(dimensions 2 x 1 x 1)")
            .c_str(),
        DataError);
  }
  SUBCASE("zero examples") {
    const auto file = dir.write("empty", idx_bytes({0, 28, 28}, {}));
    CHECK_THROWS_WITH_AS(
        read_idx(file, labels),
        (file.string() + ": IDX images file: contains no examples (first dimension is 0)").c_str(),
        DataError);
  }
  SUBCASE("a zero dimension after the first") {
    // Without this, (1, 2^32-1, 2^32-1, 0) holds no data and passes the size check, and the sample
    // shape's product overflows later.
    const auto file = dir.write("zero", idx_bytes({1, 4294967295u, 4294967295u, 0}, {}));
    CHECK_THROWS_WITH_AS(
        read_idx(file, labels),
        (file.string() + ": IDX images file: dimension 4 is 0 (dimensions 1 x 4294967295 x 4294967295 x 0)")
            .c_str(),
        DataError);
  }
  SUBCASE("dimensions whose product overflows 64 bits are refused, not wrapped around") {
    // 2^32-1 to the fourth power wraps around int64; 255 dimensions could claim anything.
    const auto file = dir.write("huge", idx_bytes({4294967295u, 4294967295u, 4294967295u, 4294967295u}, {7}));
    CHECK_THROWS_WITH_AS(
        read_idx(file, labels),
        (file.string() +
         ": IDX images file: truncated data: dimensions 4294967295 x 4294967295 x 4294967295 x "
         "4294967295 need more than 2^63 bytes from byte offset 20, but the file ends at byte "
         "offset 21")
            .c_str(),
        DataError);
    std::string many = idx_bytes(std::vector<std::uint32_t>(255, 2), {});
    CHECK_THROWS_WITH_AS(read_idx_array(dir.write("many", many), "IDX file"),
                         doctest::Contains("need more than 2^63 bytes"), DataError);
  }
  SUBCASE("image and label counts differ: both files and both counts") {
    const auto images = dir.write("images", idx_bytes({3, 1, 1}, {1, 2, 3}));
    CHECK_THROWS_WITH_AS(read_idx(images, labels),
                         ("example count mismatch: images file " + images.string() +
                          " has 3 examples, labels file " + labels.string() + " has 2")
                             .c_str(),
                         DataError);
  }
  SUBCASE("labels must be 1-D") {
    const auto images = dir.write("images", idx_bytes({2, 1, 1}, {1, 2}));
    const auto matrix = dir.write("matrix", idx_bytes({2, 1}, {1, 2}));
    CHECK_THROWS_WITH_AS(
        read_idx(images, matrix),
        (matrix.string() + ": IDX labels file: 2 dimensions; expected 1 (one label per example)").c_str(),
        DataError);
  }
  SUBCASE("the exit code is 3") {
    try {
      read_idx(dir.path() / "nope", labels);
      FAIL("no exception");
    } catch (const DlrunError& error) {
      CHECK(error.exit_code() == 3);
    }
  }
}

TEST_CASE("idx: the real Fashion-MNIST loads with 60000/10000 examples and labels 0-9") {
  const std::filesystem::path folder = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(folder / "train-images-idx3-ubyte.gz")) {
    MESSAGE("skipped: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
    return;
  }
  // Speed is measured by benchmarks, not asserted here (the CI machine is shared and noisy).
  const Dataset train =
      read_idx(folder / "train-images-idx3-ubyte.gz", folder / "train-labels-idx1-ubyte.gz");
  CHECK(train.size() == 60000);
  CHECK(train.sample_shape == Shape{1, 28, 28});
  CHECK(train.bytes.size() == 60000u * 28u * 28u);
  CHECK(train.class_names == std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
  std::vector<Index> per_class(10, 0);
  Index out_of_range = 0;
  for (const auto label : train.labels) {
    if (label < 0 || label >= 10) {
      ++out_of_range;
    } else {
      ++per_class[static_cast<std::size_t>(label)];
    }
  }
  CHECK(out_of_range == 0);
  CHECK(per_class == std::vector<Index>(10, 6000));  // Fashion-MNIST is balanced

  const Dataset test = read_idx(folder / "t10k-images-idx3-ubyte.gz", folder / "t10k-labels-idx1-ubyte.gz");
  CHECK(test.size() == 10000);
  CHECK(test.class_names == train.class_names);
}
