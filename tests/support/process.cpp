#include "support/process.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

namespace dlrun::testing {

CommandResult run_dlrun(const std::string& arguments, const std::filesystem::path& directory) {
  return run_command(std::string("'") + DLRUN_BINARY + "' " + arguments, directory);
}

CommandResult run_command(const std::string& command_line, const std::filesystem::path& directory) {
  TempDir capture;
  const auto out = capture / "stdout";
  const auto err = capture / "stderr";
  std::string command;
  if (!directory.empty()) command += "cd '" + directory.string() + "' && ";
  command += "{ " + command_line + "\n} >'" + out.string() + "' 2>'" + err.string() + "' </dev/null";
  const int status = std::system(command.c_str());
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = read_bytes(out);
  result.err = read_bytes(err);
  return result;
}

}  // namespace dlrun::testing
