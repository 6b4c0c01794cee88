#include "core/node.hpp"

#include <charconv>
#include <cmath>

namespace dlrun {

Node Node::scalar(std::string text, Location where, bool quoted) {
  Node node;
  node.kind_ = Kind::scalar;
  node.text_ = std::move(text);
  node.where_ = std::move(where);
  node.quoted_ = quoted;
  return node;
}

Node Node::sequence(Location where) {
  Node node;
  node.kind_ = Kind::sequence;
  node.where_ = std::move(where);
  return node;
}

Node Node::map(Location where) {
  Node node;
  node.kind_ = Kind::map;
  node.where_ = std::move(where);
  return node;
}

const Node* Node::find(std::string_view key) const {
  for (const Entry& entry : entries_) {
    if (entry.key == key) return &entry.value;
  }
  return nullptr;
}

Node* Node::find(std::string_view key) {
  for (Entry& entry : entries_) {
    if (entry.key == key) return &entry.value;
  }
  return nullptr;
}

void Node::set(std::string key, Node value, Location key_where) {
  kind_ = Kind::map;
  for (Entry& entry : entries_) {
    if (entry.key == key) {
      entry.value = std::move(value);
      return;
    }
  }
  entries_.push_back(Entry{std::move(key), std::move(key_where), std::move(value)});
}

bool Node::erase(std::string_view key) {
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->key == key) {
      entries_.erase(it);
      return true;
    }
  }
  return false;
}

std::string Node::kind_name() const {
  switch (kind_) {
    case Kind::null:
      return "empty";
    case Kind::scalar:
      return "'" + text_ + "'";
    case Kind::sequence:
      return "a list";
    case Kind::map:
      return "a mapping";
  }
  return "?";
}

std::string Node::as_string(std::string_view what) const {
  if (!is_scalar()) throw ConfigError(where_, std::string(what) + ": expected a string, got " + kind_name());
  return text_;
}

double Node::as_double(std::string_view what) const {
  if (is_scalar() && !quoted_) {
    const std::string& t = text_;
    double value = 0.0;
    const char* begin = t.data();
    if (!t.empty() && t[0] == '+') ++begin;
    const auto [end, error] = std::from_chars(begin, t.data() + t.size(), value);
    if (error == std::errc() && end == t.data() + t.size() && begin != end) {
      if (!std::isfinite(value)) throw ConfigError(where_, std::string(what) + ": must be a finite number");
      return value;
    }
    if (t == ".nan" || t == ".NaN" || t == ".inf" || t == "-.inf" || t == ".Inf" || t == "-.Inf") {
      throw ConfigError(where_, std::string(what) + ": must be a finite number, got '" + t + "'");
    }
  }
  throw ConfigError(where_, std::string(what) + ": expected a number, got " + kind_name());
}

std::int64_t Node::as_int(std::string_view what) const {
  if (is_scalar() && !quoted_) {
    const std::string& t = text_;
    std::int64_t value = 0;
    const char* begin = t.data();
    if (!t.empty() && t[0] == '+') ++begin;
    const auto [end, error] = std::from_chars(begin, t.data() + t.size(), value);
    if (error == std::errc() && end == t.data() + t.size() && begin != end) return value;
    if (error == std::errc::result_out_of_range) {
      throw ConfigError(where_, std::string(what) + ": integer out of range: '" + t + "'");
    }
  }
  throw ConfigError(where_, std::string(what) + ": expected an integer, got " + kind_name());
}

bool Node::as_bool(std::string_view what) const {
  if (is_scalar() && !quoted_) {
    if (text_ == "true" || text_ == "True" || text_ == "TRUE") return true;
    if (text_ == "false" || text_ == "False" || text_ == "FALSE") return false;
  }
  throw ConfigError(where_, std::string(what) + ": expected true or false, got " + kind_name());
}

}  // namespace dlrun
