// Options: typed, range-checked reads of one config mapping (a layer, an optimizer, a schedule)
// that remember which keys were read, so that finish() can reject unknown keys with a
// did-you-mean. Every error is a ConfigError at the offending key's file:line:col.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/node.hpp"
#include "core/tensor.hpp"

namespace dlrun {

class Options {
 public:
  // `node` must be a mapping (or null for "no options"); `context` names it in messages,
  // e.g. "layer 'fc1' (dense)". Keys listed in `ignored` are treated as already read.
  Options(const Node& node, std::string context, std::vector<std::string> ignored = {});
  // Options keeps a reference to the node: a temporary would dangle (found by ASan in a test).
  Options(Node&& node, std::string context, std::vector<std::string> ignored = {}) = delete;

  bool has(std::string_view key) const;
  const Node* raw(std::string_view key);  // marks the key as read; nullptr when absent
  Location where(std::string_view key) const;

  double number(std::string_view key, double fallback);
  double required_number(std::string_view key);
  Index integer(std::string_view key, Index fallback);
  Index required_integer(std::string_view key);
  bool boolean(std::string_view key, bool fallback);
  std::string string(std::string_view key, std::string fallback);
  std::string required_string(std::string_view key);
  // A string that must be one of `allowed`.
  std::string choice(std::string_view key, std::string fallback, const std::vector<std::string>& allowed);
  // An int or a list of `count` ints: `kernel: 3` or `kernel: [3, 5]`.
  std::vector<Index> integers(std::string_view key, std::vector<Index> fallback, std::size_t count);
  // A list of numbers of any length (e.g. milestones).
  std::vector<double> numbers(std::string_view key, std::vector<double> fallback);

  // Range checks, throwing ConfigError at the key: "<context>: <key>: must be > 0, got -1".
  void require_positive(std::string_view key, double value);                  // > 0
  void require_at_least(std::string_view key, double value, double minimum);  // >= minimum
  void require_in(std::string_view key, double value, double low, double high, bool high_open = true);

  // A read and its range check in one: number() or integer(), then the require_ above.
  double positive_number(std::string_view key, double fallback);
  double number_at_least(std::string_view key, double fallback, double minimum);
  Index integer_at_least(std::string_view key, Index fallback, Index minimum);
  double number_in(std::string_view key, double fallback, double low, double high, bool high_open = true);
  [[noreturn]] void fail(std::string_view key, std::string_view message) const;

  // Throws for the first key that no getter read (with a did-you-mean among `known`):
  // "<context>: unknown option 'x'", or "unknown key 'x'" when the context is empty (top level).
  void finish(const std::vector<std::string>& known) const;
  // As above, with the keys read so far as the known set.
  void finish() const;

  const std::string& context() const { return context_; }

 private:
  const Node* lookup(std::string_view key);
  const Node& node_;
  std::string context_;
  std::set<std::string, std::less<>> used_;
};

// Formats a number with 9 significant digits (%.9g): messages, metrics.csv, predict output.
std::string format_number(double value);

}  // namespace dlrun
