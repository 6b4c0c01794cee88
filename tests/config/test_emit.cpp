#include <doctest/doctest.h>

#include "config/emit.hpp"
#include "config/yaml_loader.hpp"

using namespace dlrun;

namespace {

// Structural equality: kinds, key order, texts and quoted flags (locations aside).
bool same_tree(const Node& a, const Node& b) {
  if (a.kind() != b.kind()) return false;
  if (a.is_scalar()) return a.text() == b.text() && a.quoted() == b.quoted();
  if (a.items().size() != b.items().size() || a.entries().size() != b.entries().size()) return false;
  for (std::size_t i = 0; i < a.items().size(); ++i) {
    if (!same_tree(a.items()[i], b.items()[i])) return false;
  }
  for (std::size_t i = 0; i < a.entries().size(); ++i) {
    if (a.entries()[i].key != b.entries()[i].key || !same_tree(a.entries()[i].value, b.entries()[i].value)) {
      return false;
    }
  }
  return true;
}

void check_round_trip(const Node& tree) {
  const std::string text = to_yaml(tree);
  CAPTURE(text);
  const Node again = parse_yaml(text, "emitted.yaml");
  CHECK(same_tree(tree, again));
  CHECK(to_yaml(again) == text);
}

}  // namespace

TEST_CASE("emit: block style, nested lists and mappings") {
  const Node tree = parse_yaml(
      "name: demo\n"
      "data: {train: {format: csv, path: \"a.csv\"}, validation: {split: 0.1}}\n"
      "model:\n"
      "  layers: [{type: dense, units: 10, kernel: [3, 3]}, {type: relu}]\n"
      "grid: [[1, 2], [], {}, [x]]\n"
      "empty:\n",
      "in.yaml");
  const std::string expected =
      "name: demo\n"
      "data:\n"
      "  train:\n"
      "    format: csv\n"
      "    path: \"a.csv\"\n"
      "  validation:\n"
      "    split: 0.1\n"
      "model:\n"
      "  layers:\n"
      "    - type: dense\n"
      "      units: 10\n"
      "      kernel:\n"
      "        - 3\n"
      "        - 3\n"
      "    - type: relu\n"
      "grid:\n"
      "  - - 1\n"
      "    - 2\n"
      "  - []\n"
      "  - {}\n"
      "  - - x\n"
      "empty: null\n";
  CHECK(to_yaml(tree) == expected);
  check_round_trip(tree);
}

TEST_CASE("emit: strings that YAML would read differently are quoted, and read back equal") {
  Node tree = Node::map();
  const char* const awkward[] = {
      "",           " padded ", "a: b",    "x #y",   "- item",      "-",         "[1]",
      "{a}",        "*alias",   "&anchor", "!tag",   "|",           ">",         "'single'",
      "\"double\"", "%percent", "@at",     "`tick",  "line\nbreak", "tab\there", "back\\slash",
      "null",       "~",        "true",    "12",     "1.5e-3",      ".nan",      "-.inf",
      "ends:",      "---",      "...",     "ümlaut", "bell\x07"};
  int i = 0;
  for (const char* text : awkward) {
    tree.set("quoted_" + std::to_string(i), Node::scalar(text, {}, true));
    ++i;
  }
  // Plain scalars as the loader makes them stay plain.
  for (const char* text : {"true", "12", "-3", "1.5e-3", "relu", "a b", "x#y", "a:b", "path/to/file.csv",
                           "-x", "a,b", "x[1]", "f(x)", "a{b}"}) {
    tree.set("plain_" + std::to_string(i++), Node::scalar(text));
  }
  tree.set("odd key: # x", Node::scalar("v"));
  tree.set("null", Node::scalar("key named null"));
  check_round_trip(tree);
}

TEST_CASE("emit: scalars and empty collections at the top") {
  CHECK(to_yaml(Node::map()) == "{}\n");
  CHECK(to_yaml(Node::scalar("x")) == "x\n");
  CHECK(to_yaml(Node()) == "null\n");
  CHECK(parse_yaml_value(to_yaml(Node::sequence()), "o").is_sequence());
}

// Found by fuzz_config: a search space's choice label of 1,300 characters validated, but the
// config.yaml written for it did not load ("illegal map value": YAML's 1024-character limit on
// implicit keys). Such keys are written as explicit keys ("? key" / ": value").
TEST_CASE("emit: keys longer than YAML's 1024-character implicit-key limit read back equal") {
  Node choices = Node::map();
  const std::string long_key(1300, 'k');
  const std::string long_awkward = std::string(1100, 'x') + ": odd\nkey";
  choices.set(long_key, Node::scalar("plain value"));
  choices.set(long_awkward, Node());
  Node nested = Node::map();
  nested.set("units", Node::scalar("32"));
  choices.set(std::string(1025, 'n'), std::move(nested));
  choices.set(std::string(1024, 'e'), Node::scalar("at the limit"));
  Node tree = Node::map();
  tree.set("choice", std::move(choices));
  const std::string text = to_yaml(tree);
  CHECK(text.find("  ? " + long_key + "\n  : plain value\n") != std::string::npos);
  CHECK(text.find("  " + std::string(1024, 'e') + ": at the limit\n") != std::string::npos);
  check_round_trip(tree);
}
