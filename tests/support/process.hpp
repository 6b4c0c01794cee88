// Running the dlrun binary from end-to-end tests: exit code, stdout and stderr.
#pragma once

#include <filesystem>
#include <string>

namespace dlrun::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `dlrun <arguments>` (arguments are passed to /bin/sh as written) in `directory`.
CommandResult run_dlrun(const std::string& arguments, const std::filesystem::path& directory = {});

// A fresh empty folder under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  // Writes `text` to <dir>/<name> and returns the path.
  std::filesystem::path write(const std::string& name, const std::string& text) const;

 private:
  std::filesystem::path path_;
};

std::string read_file(const std::filesystem::path& path);

}  // namespace dlrun::testing
