#include "config/overrides.hpp"

#include <algorithm>
#include <charconv>
#include <map>

#include "config/yaml_loader.hpp"

namespace dlrun {
namespace {

std::vector<std::string> split_path(std::string_view path, const Location& where) {
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = path.find('.', start);
    const std::string_view segment = path.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (segment.empty()) {
      throw ConfigError(
          where, "bad path '" + std::string(path) + "': expected dotted keys such as model.layers.fc1.units");
    }
    segments.emplace_back(segment);
    if (dot == std::string_view::npos) return segments;
    start = dot + 1;
  }
}

std::string join(const std::vector<std::string>& segments, std::size_t begin, std::size_t end) {
  std::string text;
  for (std::size_t i = begin; i < end; ++i) text += (i == begin ? "" : ".") + segments[i];
  return text;
}

bool parse_index(const std::string& segment, std::size_t& index) {
  if (segment.empty() ||
      !std::all_of(segment.begin(), segment.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  const auto [end, error] = std::from_chars(segment.data(), segment.data() + segment.size(), index);
  return error == std::errc() && end == segment.data() + segment.size();
}

// The element of `list` that `segment` names, or a ConfigError listing what exists.
Node& find_element(Node& list, const std::string& segment, const std::string& list_path,
                   const Location& where) {
  std::size_t index = 0;
  const std::size_t count = list.items().size();
  const std::string range = count == 0 ? "it is empty" : "indices go 0.." + std::to_string(count - 1);
  if (parse_index(segment, index)) {
    if (index < count) return list.items()[index];
    throw ConfigError(where, "'" + list_path + "' has no element " + segment + " (" + range + ")");
  }
  const std::vector<std::string> names = element_names(list);
  for (std::size_t i = 0; i < count; ++i) {
    if (names[i] == segment) return list.items()[i];
  }
  std::string listed;
  for (const std::string& name : names) {
    if (!name.empty()) listed += (listed.empty() ? "" : ", ") + name;
  }
  throw ConfigError(where, "'" + list_path + "' has no element named '" + segment + "'" +
                               did_you_mean(segment, names) + "; " + range +
                               (listed.empty() ? std::string() : ", names are " + listed));
}

// Walks `path` from `tree`. create: missing mapping keys (and null values on the way) become
// new entries, and the result is never null; otherwise a missing key gives nullptr.
Node* walk(Node& tree, std::string_view path, const Location& where, bool create) {
  const std::vector<std::string> segments = split_path(path, where);
  Node* node = &tree;
  std::size_t i = 0;
  while (i < segments.size()) {
    const std::string walked = join(segments, 0, i);
    if (node->is_null()) {
      if (!create) return nullptr;
      *node = Node::map(node->where());
    }
    if (node->is_map()) {
      // The longest run of segments that is one existing key, so that `space.optimizer.lr` finds
      // the key "optimizer.lr".
      Node* child = nullptr;
      std::size_t taken = 0;
      for (std::size_t n = segments.size() - i; n >= 1 && !child; --n) {
        child = node->find(join(segments, i, i + n));
        if (child) taken = n;
      }
      if (!child) {
        if (!create) return nullptr;
        Node placeholder;
        placeholder.set_where(where);
        node->entries().push_back(NodeEntry{segments[i], where, std::move(placeholder)});
        child = &node->entries().back().value;
        taken = 1;
      }
      node = child;
      i += taken;
    } else if (node->is_sequence()) {
      node = &find_element(*node, segments[i], walked, where);
      ++i;
    } else {
      throw ConfigError(where, "'" + walked + "' is a single value (" + node->kind_name() +
                                   "), so it has no '" + segments[i] + "'");
    }
  }
  return node;
}

}  // namespace

std::vector<std::string> element_names(const Node& sequence) {
  std::vector<std::string> names;
  std::map<std::string, int, std::less<>> seen;  // type -> elements of that type so far
  for (const Node& item : sequence.items()) {
    std::string name;
    if (item.is_map()) {
      const Node* type = item.find("type");
      if (type && type->is_scalar()) {
        const int n = ++seen[type->text()];
        name = type->text() + "_" + std::to_string(n);
      }
      const Node* explicit_name = item.find("name");
      if (explicit_name && explicit_name->is_scalar()) name = explicit_name->text();
    }
    names.push_back(std::move(name));
  }
  return names;
}

Node* find_path(Node& tree, std::string_view path, const Location& where) {
  return walk(tree, path, where, false);
}

const Node* find_path(const Node& tree, std::string_view path, const Location& where) {
  // walk() does not modify the tree when create is false.
  return walk(const_cast<Node&>(tree), path, where, false);
}

void set_path(Node& tree, std::string_view path, Node value, const Location& where) {
  *walk(tree, path, where, true) = std::move(value);
}

void apply_override(Node& tree, std::string_view assignment, const std::string& origin) {
  const Location where{origin, 0, 0};
  const std::size_t equals = assignment.find('=');
  if (equals == std::string_view::npos || equals == 0) {
    throw ConfigError(where, "expected PATH=VALUE, e.g. --set train.epochs=5");
  }
  // parse_yaml_value locates every node of the value at Location{origin, 0, 0}.
  set_path(tree, assignment.substr(0, equals), parse_yaml_value(assignment.substr(equals + 1), origin),
           where);
}

}  // namespace dlrun
