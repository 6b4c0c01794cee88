// Running the dlrun binary from end-to-end tests: exit code, stdout and stderr.
#pragma once

#include <filesystem>
#include <string>

#include "support/temp_dir.hpp"

namespace dlrun::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `dlrun <arguments>` (arguments are passed to /bin/sh as written) in `directory`.
CommandResult run_dlrun(const std::string& arguments, const std::filesystem::path& directory = {});
// Runs a /bin/sh command line in `directory`, stdin from /dev/null.
CommandResult run_command(const std::string& command, const std::filesystem::path& directory = {});

}  // namespace dlrun::testing
