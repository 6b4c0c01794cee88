// The error types the library throws. The library never exits or logs: app/main.cpp is the only
// place that turns these into messages and exit codes (DESIGN.md §2).
#pragma once

#include <algorithm>
#include <source_location>
#include <stdexcept>
#include <string>
#include <string_view>

namespace dlrun {

// A place in a text file, 1-based for humans. line/column are 0 when unknown.
struct Location {
  std::string file;
  int line = 0;
  int column = 0;
  bool known() const { return !file.empty(); }
  std::string to_string() const;  // "configs/x.yaml:12:7", "data/x.csv:4", "model.bin"
};

class DlrunError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  // The process exit code this error maps to (DESIGN.md §2).
  virtual int exit_code() const { return 1; }
};

// A bug or an impossible state inside dlrun: exit 1.
class InternalError : public DlrunError {
 public:
  using DlrunError::DlrunError;
};

// Tensor shapes that do not fit together.
class ShapeError : public DlrunError {
 public:
  using DlrunError::DlrunError;
  int exit_code() const override { return 2; }
};

// Usage or config error: exit 2. The message starts with the location when there is one.
class ConfigError : public DlrunError {
 public:
  ConfigError(const Location& where, std::string_view message);
  explicit ConfigError(std::string_view message) : DlrunError(std::string(message)) {}
  const Location& where() const { return where_; }
  int exit_code() const override { return 2; }

 private:
  Location where_;
};

// Missing, malformed or inconsistent data files and bad checkpoints: exit 3.
class DataError : public DlrunError {
 public:
  DataError(const Location& where, std::string_view message);
  explicit DataError(std::string_view message) : DlrunError(std::string(message)) {}
  int exit_code() const override { return 3; }
};

// Training produced a non-finite loss, gradient or parameter: exit 4.
class DivergedError : public DlrunError {
 public:
  using DlrunError::DlrunError;
  int exit_code() const override { return 4; }
};

// An output file or folder could not be written: exit 5.
class OutputError : public DlrunError {
 public:
  using DlrunError::DlrunError;
  int exit_code() const override { return 5; }
};

// Internal invariant check; throws InternalError naming the C++ source place.
void require(bool condition, std::string_view message,
             std::source_location where = std::source_location::current());

// "did you mean 'dense'?" support: the candidate closest to `word` by edit distance, or "" when
// none is close enough to be a plausible typo.
std::size_t edit_distance(std::string_view a, std::string_view b);

std::string closest_match(std::string_view word, const auto& candidates) {
  std::string best;
  std::size_t best_distance = std::string::npos;
  for (const auto& candidate : candidates) {
    const std::size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = std::string(candidate);
    }
  }
  const std::size_t limit = std::max<std::size_t>(2, word.size() / 3);
  return best_distance <= limit ? best : std::string();
}

// " (did you mean 'x'?)" or "".
std::string did_you_mean(std::string_view word, const auto& candidates) {
  const std::string match = closest_match(word, candidates);
  return match.empty() ? std::string() : " (did you mean '" + match + "'?)";
}

}  // namespace dlrun
