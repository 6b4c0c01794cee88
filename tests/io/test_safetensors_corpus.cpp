// The malformed-checkpoint corpus (tests/data/files/bad_checkpoints, written by
// scripts/make_bad_checkpoints.py), every truncated prefix of valid checkpoints, and the limits on
// what a header may claim (docs/checkpoints.md): each is one DataError naming the file and the
// field, and reading stays within the file's size plus 64 MiB of memory.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/errors.hpp"
#include "io/safetensors.hpp"
#include "io/safetensors_header.hpp"
#include "io/safetensors_read_error.hpp"
#include "io/safetensors_test_support.hpp"
#include "support/allocation_counter.hpp"
#include "support/fixtures.hpp"
#include "support/temp_dir.hpp"

using namespace dlrun;
using testing::le64;
using testing::make_file;
using testing::read_bytes;
using testing::safetensors_read_error;
using testing::TempDir;
using testing::write_bytes;
namespace fs = std::filesystem;

namespace {

struct CorpusFile {
  std::string name;
  std::string expected;  // a fragment of the message, or "OK"
};

std::vector<CorpusFile> corpus_listing(const fs::path& folder) {
  std::ifstream in(folder / "expected.tsv");
  std::vector<CorpusFile> files;
  for (std::string line; std::getline(in, line);) {
    const auto tab = line.find('\t');
    if (tab != std::string::npos) files.push_back({line.substr(0, tab), line.substr(tab + 1)});
  }
  return files;
}

// Reads `path`: the error message (or "no error") and the peak growth of the heap meanwhile
// (through operator new, the reader's only way to allocate). Exact, and unaffected by what the
// allocator keeps resident from earlier, as the resident size is not.
std::pair<std::string, std::int64_t> read_with_peak_heap(const fs::path& path) {
  testing::start_counting_allocations();
  std::string message = safetensors_read_error(path);
  testing::stop_counting_allocations();
  return {std::move(message), testing::peak_bytes_counted()};
}

}  // namespace

TEST_CASE("safetensors corpus: each malformed checkpoint is one DataError naming its field") {
  const fs::path folder = testing::test_data_path("files/bad_checkpoints");
  const auto files = corpus_listing(folder);
  std::set<std::string> listed;
  int malformed = 0;
  for (const CorpusFile& file : files) {
    CAPTURE(file.name);
    listed.insert(file.name);
    const fs::path path = folder / file.name;
    if (file.expected == "OK") {
      const auto contents = read_safetensors(path);
      CHECK(contents.checksum.has_value());  // written by Python: the definitions agree
      CHECK(contents.tensors.size() == 4);
      continue;
    }
    ++malformed;
    const std::string message = safetensors_read_error(path);
    CHECK(message.starts_with(path.string() + ": "));
    CHECK_MESSAGE(message.find(file.expected) != std::string::npos, message);
    CHECK(message.find('\n') == std::string::npos);
  }
  for (const auto& entry : fs::directory_iterator(folder)) {
    const std::string name = entry.path().filename().string();
    if (name != "expected.tsv") CHECK_MESSAGE(listed.count(name) == 1, name << " is not in expected.tsv");
  }
  MESSAGE(malformed << " malformed checkpoints rejected");
  CHECK(malformed >= 25);
}

TEST_CASE("safetensors corpus: every truncated prefix of a valid checkpoint is rejected") {
  TempDir dir;
  // The corpus's checkpoint, and one written by dlrun with a checkpoint's kind of metadata.
  Tensor weight(Shape{16, 8}, 0.5f);
  Tensor bias(Shape{16}, -0.25f);
  Tensor step(Shape{}, 3.0f);
  write_safetensors(dir / "written.safetensors",
                    {{"fc.weight", &weight}, {"fc.bias", &bias}, {"step", &step}},
                    {{"format", "dlrun-checkpoint-1"},
                     {"config", "model:\n  layers: [{type: dense, units: 16}]\n"},
                     {"train_state", R"({"epoch":2,"step_in_epoch":0,"global_step":8,"history":[]})"}});
  const fs::path path = dir / "prefix.safetensors";
  int prefixes = 0;
  for (const fs::path& source :
       {testing::test_data_path("files/bad_checkpoints/valid.safetensors"), dir / "written.safetensors"}) {
    const std::string valid = read_bytes(source);
    REQUIRE(safetensors_read_error(source) == "no error");
    write_bytes(path, valid);
    // Cut from the end, one byte at a time: one truncate(2) per prefix, no rewriting.
    for (std::size_t size = valid.size(); size-- > 0;) {
      fs::resize_file(path, size);
      const std::string message = safetensors_read_error(path);
      if (!message.starts_with(path.string() + ": ") || message == "no error") {
        FAIL_CHECK("the prefix of " << size << " of " << valid.size() << " bytes of " << source.filename()
                                    << ": " << message);
      }
      ++prefixes;
    }
  }
  MESSAGE(prefixes << " truncated prefixes rejected");
}

TEST_CASE("safetensors corpus: the limits on tensors, dimensions and nesting") {
  TempDir dir;
  const fs::path path = dir / "limits.safetensors";
  const auto entry = [](const std::string& name, const std::string& shape, std::uint64_t begin,
                        std::uint64_t end) {
    return "\"" + name + "\":{\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":[" +
           std::to_string(begin) + "," + std::to_string(end) + "]}";
  };
  SUBCASE("100,001 tensors are refused (100,000 are read: the memory test below)") {
    std::string header = "{";
    for (std::size_t i = 0; i <= kMaxSafetensorsTensors; ++i) {
      header += (i ? "," : "") + entry("t" + std::to_string(i), "[0]", 0, 0);
    }
    write_bytes(path, make_file(header + "}"));
    CHECK(safetensors_read_error(path) ==
          path.string() + ": more than 100000 tensors in the header (the limit)");
  }
  SUBCASE("rank 8 is read, 9 is refused") {
    std::string shape = "[1";
    for (std::size_t i = 1; i < kMaxSafetensorsRank; ++i) shape += ",1";
    write_bytes(path, make_file("{" + entry("t", shape + "]", 0, 4) + "}", "four"));
    CHECK(safetensors_read_error(path) == "no error");
    write_bytes(path, make_file("{" + entry("t", shape + ",1]", 0, 4) + "}", "four"));
    CHECK(safetensors_read_error(path) == path.string() + ": tensor 't': shape has more than 8 dimensions");
  }
  SUBCASE("nesting deeper than 64 levels under an unknown key") {
    const std::string deep = std::string(65, '[') + std::string(65, ']');
    write_bytes(path, make_file("{\"t\":{\"extra\":" + deep +
                                ",\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}"));
    CHECK(safetensors_read_error(path) ==
          path.string() + ": tensor 't': 'extra' nests deeper than 64 levels");
    const std::string shallow = std::string(64, '[') + std::string(64, ']');
    write_bytes(path, make_file("{\"t\":{\"extra\":" + shallow +
                                ",\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}"));
    CHECK(safetensors_read_error(path) == "no error");
  }
}

TEST_CASE("safetensors corpus: reading takes at most the file's size plus 64 MiB of memory") {
  TempDir dir;
  const fs::path path = dir / "hostile.safetensors";
  const std::size_t room = kMaxSafetensorsHeaderBytes - 64;  // header text to fill
  constexpr std::int64_t kAllowance = std::int64_t{64} << 20;
  std::int64_t worst = 0;  // peak heap minus the file's size, the largest seen
  // Reads `bytes` from a file; returns the error message or "no error".
  const auto check = [&](const std::string& what, std::string bytes, bool report = true) {
    write_bytes(path, bytes);
    const auto file_size = static_cast<std::int64_t>(bytes.size());
    std::string().swap(bytes);
    const auto [message, peak] = read_with_peak_heap(path);
    if (report) {
      MESSAGE(what << ": file " << file_size / 1024 << " KiB, peak heap while reading " << peak / 1024
                   << " KiB");
    }
    CHECK_MESSAGE(peak <= file_size + kAllowance, what);
    worst = std::max(worst, peak - file_size);
    return message;
  };
  {
    // A document tree would hold 8 million values here; the streaming parser skips them.
    std::string header = R"({"t":{"dtype":"F32","shape":[0],"data_offsets":[0,0],"x":[0)";
    const std::string zeros = [] {
      std::string text;
      for (int i = 0; i < 4096; ++i) text += ",0";
      return text;
    }();
    while (header.size() + zeros.size() < room) header += zeros;
    check("a 16 MiB list under an unknown key", make_file(header + "]}}"));
  }
  {
    // 100,000 valid tensors (the limit) with long names and rank-8 shapes (the limit).
    std::string header = "{";
    std::uint64_t offset = 0;
    const std::string name(48, 'n');
    for (std::size_t i = 0; i < kMaxSafetensorsTensors; ++i, offset += 4) {
      header.append(i ? ",\"" : "\"").append(name).append(std::to_string(1000000 + i));
      header.append(R"(":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1],"data_offsets":[)");
      header.append(std::to_string(offset)).append(",").append(std::to_string(offset + 4)).append("]}");
    }
    CHECK(check("100,000 tensors", make_file(header + "}", std::string(offset, '\0'))) == "no error");
  }
  {
    std::string header = R"({"__metadata__":{"config":")";
    header.append(room - 40, 'a');
    check("a 16 MiB metadata value", make_file(header + "\"}}"));
  }
  {
    std::string header = R"({"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,64]}})";
    check("a shape claiming 64 EiB", make_file(header, std::string(64, '\0')));
    check("a header length of 2^64 - 1", std::string(8, '\xff') + "{}");
  }
  const fs::path corpus = testing::test_data_path("files/bad_checkpoints");
  for (const auto& file : corpus_listing(corpus)) check(file.name, read_bytes(corpus / file.name), false);
  MESSAGE("the largest peak beyond the file's size: " << worst / 1024 << " KiB");
}
