#include "config/yaml_loader.hpp"

#include "config/flow_scan.hpp"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>
#include <unordered_map>
#include <vector>

namespace dlrun {
namespace {

// Where messages point: a file position, or (for --set values) just the origin plus the column
// inside the value text.
struct Places {
  std::string file;
  bool positions = true;  // false: every node gets Location{file, 0, 0}

  Location at(const YAML::Mark& mark) const {
    if (!positions || mark.is_null() || mark.line < 0) return Location{file, 0, 0};
    return Location{file, mark.line + 1, mark.column + 1};
  }
  // Message suffix for values, where the Location has no column of its own.
  std::string detail(const YAML::Mark& mark) const {
    if (positions || mark.is_null() || mark.column < 0) return "";
    return " (at character " + std::to_string(mark.pos + 1) + " of the value)";
  }
};

bool is_yaml_non_finite(const std::string& text) {
  static const char* const kForms[] = {".nan",  ".NaN",  ".NAN",  ".inf",  ".Inf",  ".INF",
                                       "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF"};
  for (const char* form : kForms) {
    if (text == form) return true;
  }
  return false;
}

// Builds Nodes from yaml-cpp's parse events. Working on events (rather than YAML::Node) lets us
// reject anchors and aliases before any graph exists, and bound the depth before yaml-cpp's own
// recursion gets deep: an event arrives as soon as its collection starts.
class TreeBuilder : public YAML::EventHandler {
 public:
  TreeBuilder(const Places& places, std::string hint) : places_(places), hint_(std::move(hint)) {}

  std::optional<Node>& root() { return root_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents_ > 1) fail(mark, "expected a single YAML document, but a second one starts here");
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    check_anchor(mark, anchor);
    if (expecting_key()) fail(mark, "a mapping key must be a non-empty string (quote keys such as \"null\")");
    Node node;
    node.set_where(places_.at(mark));
    add(std::move(node), mark);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t /*anchor*/) override { reject_anchors(mark); }

  void OnAnchor(const YAML::Mark& mark, const std::string& /*name*/) override { reject_anchors(mark); }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    check_anchor(mark, anchor);
    // yaml-cpp tags plain scalars "?" and quoted (or block) scalars "!"; anything else was written.
    if (tag != "?" && tag != "!") reject_tag(mark, tag);
    const bool quoted = tag == "!";
    if (!quoted && is_yaml_non_finite(value)) {
      fail(mark, "non-finite number '" + value + "' is not allowed");
    }
    add(Node::scalar(value, places_.at(mark), quoted), mark);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value /*style*/) override {
    open(mark, tag, anchor, Node::sequence(places_.at(mark)));
  }
  void OnSequenceEnd() override { close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value /*style*/) override {
    open(mark, tag, anchor, Node::map(places_.at(mark)));
  }
  void OnMapEnd() override { close(); }

  [[noreturn]] void fail(const YAML::Mark& mark, const std::string& message) const {
    throw ConfigError(places_.at(mark), message + places_.detail(mark));
  }

 private:
  struct Frame {
    Node node;
    YAML::Mark mark;
    bool has_key = false;  // maps: a key was read and waits for its value
    std::string key;
    Location key_where;
    std::unordered_map<std::string, int> key_lines;  // maps: key -> its line, for duplicates
  };

  bool expecting_key() const {
    return !stack_.empty() && stack_.back().node.is_map() && !stack_.back().has_key;
  }

  [[noreturn]] void reject_anchors(const YAML::Mark& mark) const {
    fail(mark, "YAML anchors and aliases (&name, *name) are not supported; write the values out");
  }
  void check_anchor(const YAML::Mark& mark, YAML::anchor_t anchor) const {
    if (anchor != YAML::NullAnchor) reject_anchors(mark);
  }
  [[noreturn]] void reject_tag(const YAML::Mark& mark, const std::string& tag) const {
    fail(mark, "YAML tags ('" + tag + "') are not supported; quote the value to make it a string");
  }

  void open(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor, Node node) {
    check_anchor(mark, anchor);
    if (tag != "?") reject_tag(mark, tag);
    if (expecting_key()) fail(mark, "a mapping key must be a plain string, not " + node.kind_name() + hint_);
    if (static_cast<int>(stack_.size()) >= kMaxConfigDepth) {
      fail(mark, "nesting is deeper than " + std::to_string(kMaxConfigDepth) + " levels");
    }
    stack_.push_back(Frame{std::move(node), mark, false, {}, {}, {}});
  }

  void close() {
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    add(std::move(frame.node), frame.mark);
  }

  void add(Node node, const YAML::Mark& mark) {
    if (stack_.empty()) {
      root_ = std::move(node);
      return;
    }
    Frame& parent = stack_.back();
    if (parent.node.is_sequence()) {
      parent.node.push_back(std::move(node));
    } else if (!parent.has_key) {
      add_key(parent, node, mark);
    } else {
      // yaml-cpp places an empty value at the next token; its key is the better place to point.
      if (node.is_null()) node.set_where(parent.key_where);
      parent.node.entries().push_back(NodeEntry{std::move(parent.key), parent.key_where, std::move(node)});
      parent.has_key = false;
    }
  }

  void add_key(Frame& map, const Node& key, const YAML::Mark& mark) {
    // A hash lookup: a 1 MiB file can hold a mapping with 100k keys.
    const int line = places_.positions ? mark.line + 1 : 0;
    const auto [previous, inserted] = map.key_lines.emplace(key.text(), line);
    if (!inserted) {
      const int first = previous->second;
      fail(mark, "duplicate key '" + key.text() + "'" +
                     (first > 0 ? " (first given at line " + std::to_string(first) + ")" : std::string()));
    }
    map.key = key.text();
    map.key_where = key.where();
    map.has_key = true;
  }

  const Places& places_;
  std::string hint_;  // appended to errors that an unclosed bracket may cause
  std::vector<Frame> stack_;
  std::optional<Node> root_;
  int documents_ = 0;
};

// Line and column (1-based) of byte `offset` in `text`.
Location location_of(std::string_view text, std::size_t offset, const Places& places) {
  if (!places.positions) return Location{places.file, 0, 0};
  int line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return Location{places.file, line, static_cast<int>(offset - line_start) + 1};
}

std::string too_deep() {
  return "nesting is deeper than " + std::to_string(kMaxConfigDepth) + " levels";
}

// Parses the one document of `text`; `check_root` sees it before we look for a second document
// (so that a broken first document is reported as such). Returns nullopt for an empty stream.
template <typename CheckRoot>
std::optional<Node> parse_document(std::string_view text, const Places& places, CheckRoot check_root) {
  if (text.size() > kMaxConfigBytes) {
    throw ConfigError(Location{places.file, 0, 0}, "the config text is larger than 1 MiB");
  }
  // yaml-cpp would take NUL bytes as a UTF-16/32 byte-order guess; a config never holds them.
  if (const std::size_t nul = text.find('\0'); nul != std::string_view::npos) {
    throw ConfigError(location_of(text, nul, places),
                      "the config text contains a NUL byte (is it a binary file?)");
  }
  const detail::FlowScan scan = detail::scan_flow(text, kMaxConfigDepth);
  if (scan.too_deep != std::string_view::npos)
    throw ConfigError(location_of(text, scan.too_deep, places), too_deep());
  std::string hint;  // for yaml-cpp's messages about an unclosed bracket, which point elsewhere
  if (scan.unclosed != std::string_view::npos) {
    const Location where = location_of(text, scan.unclosed, places);
    const std::string bracket(1, text[scan.unclosed]);
    hint = places.positions ? " (is the '" + bracket + "' at line " + std::to_string(where.line) +
                                  ", column " + std::to_string(where.column) + " closed?)"
                            : " (is a '" + bracket + "' left unclosed?)";
  }
  std::istringstream stream{std::string(text)};
  TreeBuilder builder(places, hint);
  try {
    YAML::Parser parser(stream);
    // One document only, and never YAML::LoadAll: its loop does not terminate on some malformed
    // input in yaml-cpp 0.7.0. The second call only checks that no other document follows.
    if (!parser.HandleNextDocument(builder)) return std::nullopt;
    if (!builder.root()) throw ConfigError(Location{places.file, 0, 0}, "incomplete YAML document");
    check_root(*builder.root());
    parser.HandleNextDocument(builder);
  } catch (const YAML::DeepRecursion& error) {
    builder.fail(error.mark, too_deep());
  } catch (const YAML::Exception& error) {
    builder.fail(error.mark, "YAML syntax error: " + error.msg + hint);
  }
  return std::move(*builder.root());
}

}  // namespace

Node parse_yaml(std::string_view text, const std::string& file_name) {
  const std::string expected = "a mapping of keys (name:, data:, model:, ...)";
  auto check_root = [&](const Node& root) {
    if (root.is_null())
      throw ConfigError(Location{file_name, 0, 0}, "the config is empty; expected " + expected);
    if (root.is_map()) return;
    // A scalar's text can be the whole (wrong) file: show its start only.
    std::string got = root.kind_name();
    if (root.is_scalar() && root.text().size() > 40) got = "'" + root.text().substr(0, 40) + "...'";
    throw ConfigError(root.where(), "the config must be " + expected + ", got " + got);
  };
  std::optional<Node> root = parse_document(text, Places{file_name, true}, check_root);
  if (!root) throw ConfigError(Location{file_name, 0, 0}, "the config is empty; expected " + expected);
  return std::move(*root);
}

Node parse_yaml_value(std::string_view text, const std::string& origin) {
  std::optional<Node> root = parse_document(text, Places{origin, false}, [](const Node&) {});
  if (!root) {
    Node empty;
    empty.set_where(Location{origin, 0, 0});
    return empty;
  }
  return std::move(*root);
}

Node load_yaml_file(const std::filesystem::path& file) {
  const Location where{file.string(), 0, 0};
  std::error_code error;
  const auto status = std::filesystem::status(file, error);
  if (error || !std::filesystem::exists(status)) {
    throw ConfigError(
        where, "cannot read the config file: " + (error ? error.message() : std::string("no such file")));
  }
  if (!std::filesystem::is_regular_file(status)) {
    throw ConfigError(where, "cannot read the config file: not a regular file");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ConfigError(where, std::string("cannot read the config file: ") + std::strerror(errno));
  // Read at most one byte past the limit: the size check must not trust a file that is growing.
  std::string text(kMaxConfigBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) throw ConfigError(where, "cannot read the config file: read error");
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxConfigBytes) {
    throw ConfigError(where, "the config file is larger than 1 MiB; is it the right file?");
  }
  return parse_yaml(text, file.string());
}

}  // namespace dlrun
