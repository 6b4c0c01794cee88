// The lines of a stderr capture that start with "error:" (dlrun prints each error as one such line).
#pragma once

#include <sstream>
#include <string>
#include <vector>

namespace dlrun::testing {

inline std::vector<std::string> error_lines(const std::string& err) {
  std::istringstream lines(err);
  std::vector<std::string> found;
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with("error:")) found.push_back(line);
  }
  return found;
}

}  // namespace dlrun::testing
