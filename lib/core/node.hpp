// Node: the parsed config tree (scalars, sequences, maps) with source locations, independent of the
// YAML library. lib/config builds it from YAML; layers, optimizers and schedules read their
// options from it through Options (core/options.hpp) without knowing about YAML.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/errors.hpp"

namespace dlrun {

struct NodeEntry;

class Node {
 public:
  enum class Kind { null, scalar, sequence, map };

  Node() = default;
  static Node scalar(std::string text, Location where = {}, bool quoted = false);
  static Node sequence(Location where = {});
  static Node map(Location where = {});

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::null; }
  bool is_scalar() const { return kind_ == Kind::scalar; }
  bool is_sequence() const { return kind_ == Kind::sequence; }
  bool is_map() const { return kind_ == Kind::map; }
  const Location& where() const { return where_; }
  void set_where(Location where) { where_ = std::move(where); }

  // Scalars. `quoted` is true for "..." and '...' scalars, which are always strings.
  const std::string& text() const { return text_; }
  bool quoted() const { return quoted_; }

  // Sequences.
  const std::vector<Node>& items() const { return items_; }
  std::vector<Node>& items() { return items_; }
  void push_back(Node item) { items_.push_back(std::move(item)); }

  // Maps, in file order. Keys are plain strings with their own location.
  using Entry = NodeEntry;
  const std::vector<Entry>& entries() const { return entries_; }
  std::vector<Entry>& entries() { return entries_; }
  const Node* find(std::string_view key) const;
  Node* find(std::string_view key);
  // Sets (replacing or appending) a map entry.
  void set(std::string key, Node value, Location key_where = {});
  bool erase(std::string_view key);

  // Typed reads of a scalar; each throws ConfigError at this node's location when it cannot.
  std::string as_string(std::string_view what) const;
  double as_double(std::string_view what) const;  // finite only
  std::int64_t as_int(std::string_view what) const;
  bool as_bool(std::string_view what) const;  // true/false (YAML 1.2 core schema)

  std::string kind_name() const;  // "a number", "a list", ... for messages

 private:
  Kind kind_ = Kind::null;
  Location where_;
  std::string text_;
  bool quoted_ = false;
  std::vector<Node> items_;
  std::vector<Entry> entries_;
};

struct NodeEntry {
  std::string key;
  Location key_where;
  Node value;
};

}  // namespace dlrun
