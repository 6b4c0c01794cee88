#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "core/errors.hpp"
#include "data/file_bytes.hpp"
#include "data/idx_reader.hpp"
#include "support/temp_dir.hpp"

using namespace dlrun;
using dlrun::testing::TempDir;

TEST_CASE("file bytes: plain and gzipped files read back the same bytes") {
  TempDir dir;
  const std::string text(10000, 'x');
  CHECK(read_file_bytes(dir.write("plain", text), "file").bytes.size() == text.size());
  const FileBytes gzipped = read_file_bytes(dir.write_gzip("packed", text), "file");
  CHECK(gzipped.gzipped);
  CHECK(std::string(gzipped.bytes.begin(), gzipped.bytes.end()) == text);
}

TEST_CASE("file bytes: files and gzip streams over the size limit are refused before they are read") {
  TempDir dir;
  SUBCASE("a plain file, at and over the limit") {
    const auto file = dir.write("data.csv", std::string(101, 'x'));
    CHECK(read_file_bytes(file, "CSV file", 101).bytes.size() == 101);
    CHECK_THROWS_WITH_AS(
        read_file_bytes(file, "CSV file", 100),
        (file.string() + ": CSV file is larger than the 100 bytes limit for a data file").c_str(), DataError);
  }
  SUBCASE("a gzip bomb: a small file that inflates past the limit") {
    // 8 MiB of zeros compress to about 8 KB.
    const auto file = dir.write_gzip("bomb.idx", std::string(std::size_t{8} << 20, '\0'));
    CHECK(std::filesystem::file_size(file) < 100000);
    CHECK_THROWS_WITH_AS(
        read_file_bytes(file, "IDX images file", std::uint64_t{1} << 20),
        (file.string() +
         ": IDX images file decompresses to more than the 1048576 bytes limit for a data file")
            .c_str(),
        DataError);
  }
  SUBCASE("a sparse file over the real 16 GiB limit costs nothing to refuse") {
    const auto file = dir.write("huge-idx3-ubyte", "");
    std::error_code error;
    std::filesystem::resize_file(file, kMaxDataFileBytes + 1, error);
    if (error) {
      MESSAGE("skipped: cannot make a sparse file here (" << error.message() << ")");
      return;
    }
    CHECK_THROWS_WITH_AS(
        read_idx(file, ""),
        (file.string() + ": IDX images file is larger than the 16 GiB limit for a data file").c_str(),
        DataError);
  }
}
