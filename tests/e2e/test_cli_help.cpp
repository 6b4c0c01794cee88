// End-to-end: the CLI explains itself. `dlrun` alone lists the commands (exit 2, a usage error);
// `dlrun --help` and every command's --help show an example; summary --json is one JSON object;
// --version carries the git revision.
#include <doctest/doctest.h>

#include "e2e/e2e_support.hpp"
#include "support/messages.hpp"

using namespace dlrun::testing;

namespace {
const char* const kCommands[] = {"train",    "cv",    "eval",    "predict", "search",
                                 "generate", "prune", "summary", "check",   "report"};
}

TEST_CASE("e2e cli: dlrun alone lists every command; each --help shows an example") {
  const auto bare = run_dlrun("");
  CHECK(bare.exit_code == 2);
  for (const char* command : kCommands)
    CHECK_MESSAGE(contains(bare.err, std::string("  ") + command + " "), command);
  const auto help = run_dlrun("--help");
  CHECK(help.exit_code == 0);
  CHECK(contains(help.out, "Examples:\n  dlrun train configs/quickstart.yaml"));
  for (const char* command : kCommands) {
    CAPTURE(command);
    const auto result = run_dlrun(std::string(command) + " --help");
    CHECK(result.exit_code == 0);
    CHECK(contains(result.out, std::string("Example:\n  dlrun ") + command + " "));
  }
  const auto version = run_dlrun("--version");
  CHECK(version.exit_code == 0);
  CHECK(contains(version.out, "+"));  // 0.1.0+<git revision>
}

TEST_CASE("e2e cli: summary --json is one JSON object with the layers and totals") {
  const auto result = run_dlrun("summary " + source_path("configs/iris.yaml").string() + " --json");
  REQUIRE_MESSAGE(result.exit_code == 0, result.err);
  const auto summary = last_json_line(result.out);
  REQUIRE(summary.is_object());
  CHECK(summary["command"] == "summary");
  CHECK(summary["input_shape"] == nlohmann::json::array({4}));
  CHECK(summary["layers"][0]["name"] == "hidden");
  CHECK(summary["layers"][0]["parameters"] == 80);
  CHECK(summary["parameters"] == 80 + 51);
  CHECK(summary["trainable_parameters"] == 131);
}
