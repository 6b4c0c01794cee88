// scripts/completion: the bash completion (its function called with COMP_WORDS set) and the zsh
// completion (loaded by compinit in an interactive zsh driven through a pseudo-terminal,
// tests/completion/zsh_complete.zsh) complete commands, flags, flag values and config files.
#include <doctest/doctest.h>

#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

using namespace dlrun::testing;
namespace fs = std::filesystem;

namespace {

using Words = std::set<std::string>;

const fs::path kCompletion = fs::path(DLRUN_SOURCE_DIR) / "scripts/completion";

// A folder with a config, another YAML file, a text file and a subfolder to complete among.
void fill(const TempDir& dir) {
  dir.write("run.yaml", "");
  dir.write("other.yml", "");
  dir.write("notes.txt", "");
  fs::create_directories(dir / "runs");
}

Words lines_of(const std::string& text) {
  Words words;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) words.insert(line);
  }
  return words;
}

// bash: COMPREPLY after calling _dlrun on `words` (the last one being completed).
Words bash_complete(const TempDir& dir, const std::string& words) {
  dir.write("complete.bash",
            "source '" + (kCompletion / "dlrun.bash").string() + "'\nCOMP_WORDS=(" + words +
                ")\nCOMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n_dlrun\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n");
  const CommandResult result = run_command("bash complete.bash", dir.path());
  REQUIRE_MESSAGE(result.exit_code == 0, result.err);
  Words words_offered = lines_of(result.out);
  words_offered.erase("complete.bash");
  return words_offered;
}

}  // namespace

TEST_CASE("completion: bash completes commands, flags, their values and config files") {
  TempDir dir;
  fill(dir);
  CHECK(bash_complete(dir, "dlrun tr") == Words{"train"});
  CHECK(bash_complete(dir, "dlrun ''") == Words{"train", "cv", "eval", "predict", "search", "generate",
                                                "prune", "quantize", "summary", "check", "report", "--help",
                                                "--version"});
  const Words train_flags = bash_complete(dir, "dlrun train run.yaml --");
  for (const char* flag : {"--out", "--resume", "--weights", "--set", "--threads", "--report"})
    CHECK_MESSAGE(train_flags.count(flag) == 1, flag);
  CHECK(bash_complete(dir, "dlrun eval run.yaml --split ''") == Words{"test", "validation", "train"});
  CHECK(bash_complete(dir, "dlrun predict run.yaml --format ''") == Words{"idx", "csv", "npy"});
  const Words configs = bash_complete(dir, "dlrun train ''");
  CHECK(configs.count("run.yaml") == 1);
  CHECK(configs.count("other.yml") == 1);
  CHECK(configs.count("notes.txt") == 0);
}

TEST_CASE("completion: zsh completes commands, flags, their values and config files") {
  if (run_command("command -v zsh").exit_code != 0) {
    std::printf("SKIPPED: zsh not installed (scripts/bootstrap installs it)\n");
    return;
  }
  TempDir dir;
  fill(dir);
  const std::vector<std::string> lines{"dlrun tr",
                                       "dlrun ",
                                       "dlrun train run.yaml --",
                                       "dlrun eval run.yaml --split ",
                                       "dlrun predict run.yaml --format ",
                                       "dlrun train "};
  std::string command = "zsh -f '" +
                        (fs::path(DLRUN_SOURCE_DIR) / "tests/completion/zsh_complete.zsh").string() + "' '" +
                        kCompletion.string() + "'";
  for (const auto& line : lines) command += " '" + line + "'";
  const CommandResult result = run_command(command, dir.path());
  REQUIRE_MESSAGE(result.exit_code == 0, std::string(result.out + result.err));
  std::map<std::string, Words> offered;
  std::string current;
  std::istringstream in(result.out);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("== ")) {
      current = line.substr(3);
      offered[current];
    } else if (!line.empty()) {
      offered[current].insert(line);
    }
  }
  REQUIRE(offered.size() == lines.size());
  CHECK(offered["dlrun tr"] == Words{"train"});
  CHECK(offered["dlrun "] == Words{"train", "cv", "eval", "predict", "search", "generate", "prune", "quantize", "summary",
                                   "check", "report", "--help", "--version"});
  const Words& train_flags = offered["dlrun train run.yaml --"];
  for (const char* flag : {"--out", "--resume", "--weights", "--set", "--threads", "--report"})
    CHECK_MESSAGE(train_flags.count(flag) == 1, flag);
  CHECK(offered["dlrun eval run.yaml --split "] == Words{"test", "validation", "train"});
  CHECK(offered["dlrun predict run.yaml --format "] == Words{"idx", "csv", "npy"});
  // Configs: the YAML files (and folders to descend into), not other files.
  CHECK(offered["dlrun train "] == Words{"run.yaml", "other.yml", "runs"});
}
