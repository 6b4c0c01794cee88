// Inputs that crashed a fuzz harness (docs/security.md), replayed through the same reader: each
// is now one DataError naming the file. The inputs are committed as the fuzzer wrote them.
#include <doctest/doctest.h>

#include <filesystem>
#include <set>
#include <string>

#include "core/errors.hpp"
#include "io/safetensors.hpp"
#include "support/fixtures.hpp"

using namespace dlrun;
using dlrun::testing::test_data_path;

TEST_CASE("fuzz regressions: safetensors inputs that crashed the reader are DataErrors") {
  struct Case {
    const char* file;
    const char* message;  // after "<path>: "
  };
  const Case cases[] = {
      // nlohmann::json threw out_of_range, not parse_error, for a number beyond double. The header
      // parser of our own never converts numbers to double: 1e400 is a token, and the file's JSON
      // breaks right after it.
      {"number-overflow-1e400.safetensors",
       "header is not valid JSON: expected ',' or ']' at byte 88 of the header"},
  };
  const auto folder = test_data_path("files/fuzz_regressions/safetensors");
  std::set<std::string> listed;
  for (const Case& c : cases) {
    CAPTURE(c.file);
    listed.insert(c.file);
    const auto path = folder / c.file;
    CHECK_THROWS_WITH_AS(read_safetensors(path), (path.string() + ": " + c.message).c_str(), DataError);
  }
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    CHECK_MESSAGE(listed.count(entry.path().filename().string()) == 1,
                  "add " << entry.path().filename().string() << " to the cases above");
  }
}
