#include <doctest/doctest.h>

#include <random>

#include "config/config_test_util.hpp"
#include "config/yaml_loader.hpp"

using namespace dlrun;
using dlrun::testing::config_error;

namespace {

std::string yaml_error(const std::string& text) {
  return config_error([&] { parse_yaml(text, "cfg.yaml"); });
}

std::string at(const Location& where) {
  return where.to_string();
}

}  // namespace

TEST_CASE("yaml loader: every node and key carries file:line:col, quoted scalars are marked") {
  const std::string text =
      "name: demo\n"
      "data:\n"
      "  train: {format: csv, path: \"a.csv\"}\n"
      "model:\n"
      "  layers:\n"
      "    - type: dense\n"
      "      units: 10\n"
      "    - {type: dropout, rate: '0.5'}\n"
      "empty:\n";
  const Node root = parse_yaml(text, "configs/x.yaml");
  REQUIRE(root.is_map());
  CHECK(at(root.where()) == "configs/x.yaml:1:1");
  REQUIRE(root.entries().size() == 4);
  CHECK(root.entries()[0].key == "name");
  CHECK(at(root.entries()[0].key_where) == "configs/x.yaml:1:1");
  CHECK(at(root.find("name")->where()) == "configs/x.yaml:1:7");
  CHECK_FALSE(root.find("name")->quoted());

  const Node& train = *root.find("data")->find("train");
  CHECK(at(train.where()) == "configs/x.yaml:3:10");
  CHECK(at(train.find("path")->where()) == "configs/x.yaml:3:30");
  CHECK(train.find("path")->quoted());
  CHECK(train.find("path")->text() == "a.csv");

  const Node& layers = *root.find("model")->find("layers");
  REQUIRE(layers.is_sequence());
  REQUIRE(layers.items().size() == 2);
  CHECK(at(layers.items()[0].where()) == "configs/x.yaml:6:7");
  CHECK(at(layers.items()[0].find("units")->where()) == "configs/x.yaml:7:14");
  CHECK(layers.items()[0].find("units")->as_int("units") == 10);
  CHECK(at(layers.items()[1].entries()[1].key_where) == "configs/x.yaml:8:23");
  CHECK(layers.items()[1].find("rate")->quoted());
  CHECK_THROWS_AS(layers.items()[1].find("rate")->as_double("rate"), ConfigError);  // '0.5' is a string

  CHECK(root.find("empty")->is_null());
  CHECK(root.find("empty")->where().line == 9);
}

TEST_CASE("yaml loader: null words are null, quoted ones are strings; block scalars are quoted") {
  const Node root = parse_yaml("a: ~\nb: null\nc: \"null\"\nd: |\n  two\n  lines\n", "f.yaml");
  CHECK(root.find("a")->is_null());
  CHECK(root.find("b")->is_null());
  CHECK(root.find("c")->is_scalar());
  CHECK(root.find("c")->text() == "null");
  CHECK(root.find("d")->text() == "two\nlines\n");
}

TEST_CASE("yaml loader: anchors and aliases are rejected before any walk") {
  CHECK(yaml_error("a: &a [*a]\n") ==
        "cfg.yaml:1:4: YAML anchors and aliases (&name, *name) are not supported; write the values out");
  CHECK(yaml_error("a: &x 1\nb: *x\n").find("cfg.yaml:1:4: YAML anchors") == 0);

  // The billion-laughs shape: nine levels of nine aliases each.
  std::string bomb =
      "a: &a [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n";
  std::string previous = "a";
  for (const char* name : {"b", "c", "d", "e", "f", "g", "h", "i"}) {
    bomb += std::string(name) + ": &" + name + " [";
    for (int k = 0; k < 9; ++k) bomb += (k ? ", *" : "*") + previous;
    bomb += "]\n";
    previous = name;
  }
  // Refused at the first anchor, before any alias could be expanded: no timing needed to show
  // that the 9^9 strings are never built.
  CHECK(yaml_error(bomb).find("cfg.yaml:1:4: YAML anchors and aliases") == 0);
}

TEST_CASE("yaml loader: nesting deeper than the limit is a clear error, however it is written") {
  const std::string too_deep = "nesting is deeper than 64 levels";
  CHECK(yaml_error(std::string(10000, '[')) == "cfg.yaml:1:65: " + too_deep);
  CHECK(yaml_error("a: " + std::string(10000, '{')).find(too_deep) != std::string::npos);
  CHECK(yaml_error("a: " + std::string(64, '[') + std::string(64, ']')).find(too_deep) != std::string::npos);
  std::string dashes;
  for (int i = 0; i < 10000; ++i) dashes += "- ";
  CHECK(yaml_error("a:\n" + dashes + "x\n").find(too_deep) != std::string::npos);
  std::string indented;
  for (int i = 0; i < 200; ++i) indented += std::string(static_cast<std::size_t>(i), ' ') + "k:\n";
  CHECK(yaml_error(indented) == "cfg.yaml:65:65: " + too_deep);

  // 63 lists inside the top mapping is 64 levels: allowed. Brackets in strings do not count.
  CHECK_NOTHROW(parse_yaml("a: " + std::string(63, '[') + std::string(63, ']'), "f"));
  CHECK_NOTHROW(parse_yaml("a: \"" + std::string(100, '[') + "\"\nb: x" + std::string(100, '{') + "\n", "f"));
}

TEST_CASE(
    "yaml loader: resource attacks at 100k levels and at the 1 MiB limit are refused, not recursed into") {
  // yaml-cpp 0.7.0 has no limits of its own: each of these would recurse once per level.
  const std::string too_deep = "nesting is deeper than 64 levels";
  const std::size_t n = 100000;
  CHECK(yaml_error(std::string(n, '[')) == "cfg.yaml:1:65: " + too_deep);
  CHECK(yaml_error("a: " + std::string(n, '{') + std::string(n, '}')).find(too_deep) != std::string::npos);
  std::string mixed = "a: ";
  for (std::size_t i = 0; i < n; ++i) mixed += i % 2 ? "{k: " : "[";
  CHECK(yaml_error(mixed).find(too_deep) != std::string::npos);
  std::string dashes = "a:\n";
  for (std::size_t i = 0; i < n; ++i) dashes += "- ";
  CHECK(yaml_error(dashes + "x\n").find(too_deep) != std::string::npos);
  std::string keys = "a:\n";
  for (std::size_t i = 0; i < n; ++i) keys += "? ";
  CHECK(yaml_error(keys + "x\n").find("cfg.yaml:") == 0);
  // A 1 MiB file of aliases (the billion-laughs body) stops at the first anchor.
  std::string bomb = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\nb: [";
  while (bomb.size() < kMaxConfigBytes - 8) bomb += "*a, ";
  bomb += "*a]\n";
  CHECK(bomb.size() <= kMaxConfigBytes);
  CHECK(yaml_error(bomb) ==
        "cfg.yaml:1:4: YAML anchors and aliases (&name, *name) are not supported; write the values out");
  CHECK(yaml_error(std::string(kMaxConfigBytes + 1, '[')) ==
        "cfg.yaml: the config text is larger than 1 MiB");
}

TEST_CASE("yaml loader: duplicate keys name both lines") {
  CHECK(yaml_error("a: 1\nb: 2\na: 3\n") == "cfg.yaml:3:1: duplicate key 'a' (first given at line 1)");
  CHECK(yaml_error("x:\n  - {k: 1, k: 2}\n") == "cfg.yaml:2:12: duplicate key 'k' (first given at line 2)");
  CHECK_NOTHROW(parse_yaml("a: {k: 1}\nb: {k: 2}\n", "f"));  // the same key in different mappings
}

TEST_CASE("yaml loader: plain .nan and .inf are rejected anywhere, quoted they are strings") {
  CHECK(yaml_error("lr: .nan\n") == "cfg.yaml:1:5: non-finite number '.nan' is not allowed");
  CHECK(yaml_error("a: [1, -.inf]\n") == "cfg.yaml:1:8: non-finite number '-.inf' is not allowed");
  CHECK(yaml_error("a:\n  b: .Inf\n").find("cfg.yaml:2:6:") == 0);
  CHECK(parse_yaml("a: '.nan'\n", "f").find("a")->text() == ".nan");
  // Plain "nan" is a string to YAML; reading it as a number is still refused.
  CHECK_THROWS_AS(parse_yaml("a: nan\n", "f").find("a")->as_double("a"), ConfigError);
}

TEST_CASE("yaml loader: size limit, missing and unreadable files name the file") {
  dlrun::testing::TempDir dir;
  const auto big = dir.write("big.yaml", "a: " + std::string(kMaxConfigBytes, 'x') + "\n");
  const std::string message = config_error([&] { load_yaml_file(big); });
  CHECK(message.find(big.string() + ": ") == 0);
  CHECK(message.find("larger than 1 MiB") != std::string::npos);
  CHECK(config_error([&] { parse_yaml(std::string(kMaxConfigBytes + 1, ' '), "t"); }).find("larger") !=
        std::string::npos);

  const auto missing = dir.path() / "missing.yaml";
  CHECK(config_error([&] { load_yaml_file(missing); }) ==
        missing.string() + ": cannot read the config file: No such file or directory");
  CHECK(config_error([&] { load_yaml_file(dir.path()); }).find("not a regular file") != std::string::npos);

  const auto good = dir.write("good.yaml", "a: 1\n");
  CHECK(load_yaml_file(good).find("a")->where().to_string() == good.string() + ":1:4");
}

TEST_CASE("yaml loader: the document must be one non-empty mapping") {
  CHECK(yaml_error("") ==
        "cfg.yaml: the config is empty; expected a mapping of keys (name:, data:, model:, ...)");
  CHECK(yaml_error("# only a comment\n").find("the config is empty") != std::string::npos);
  CHECK(yaml_error("---\n").find("the config is empty") != std::string::npos);
  CHECK(yaml_error("- a\n- b\n").find("cfg.yaml:1:1: the config must be a mapping") == 0);
  CHECK(yaml_error("just text\n").find("got 'just text'") != std::string::npos);
  CHECK(yaml_error("a: 1\n---\nb: 2\n") ==
        "cfg.yaml:2:1: expected a single YAML document, but a second one starts here");
}

TEST_CASE("yaml loader: syntax errors carry yaml-cpp's position and message") {
  CHECK(yaml_error("a: [1, 2\nb: 3\n") ==
        "cfg.yaml:2:2: YAML syntax error: end of sequence flow not found (is the '[' at line 1, column 4 "
        "closed?)");
  CHECK(yaml_error("a: 1\nb: c: d\n") == "cfg.yaml:2:5: YAML syntax error: illegal map value");
  CHECK(yaml_error("a: \"open").find("cfg.yaml:1:") == 0);
  CHECK(yaml_error("{:").find("YAML syntax error") != std::string::npos);
}

TEST_CASE("yaml loader: keys are strings; tags and NUL bytes are refused") {
  CHECK(yaml_error("? [a, b]\n: 1\n") == "cfg.yaml:1:3: a mapping key must be a plain string, not a list");
  CHECK(yaml_error("null: 1\n").find("cfg.yaml:1:1: a mapping key must be a non-empty string") == 0);
  CHECK(yaml_error("a: !!str 5\n").find("cfg.yaml:1:4: YAML tags") == 0);
  CHECK(yaml_error(std::string("a: 1\nb: x\0y\n", 12)) ==
        "cfg.yaml:2:5: the config text contains a NUL byte (is it a binary file?)");
  CHECK(parse_yaml("\"quoted key\": 1\n", "f").entries()[0].key == "quoted key");
}

TEST_CASE("yaml loader: values given outside a file (--set) are located at their origin") {
  const std::string origin = "--set a=[1, x]";
  const Node list = parse_yaml_value("[1, x]", origin);
  REQUIRE(list.is_sequence());
  CHECK(list.items().size() == 2);
  CHECK(list.where().to_string() == origin);
  CHECK(list.items()[1].where().to_string() == origin);
  CHECK(parse_yaml_value("64", "o").text() == "64");
  CHECK_FALSE(parse_yaml_value("64", "o").quoted());
  CHECK(parse_yaml_value("'64'", "o").quoted());
  CHECK(parse_yaml_value("", "o").is_null());
  CHECK(parse_yaml_value("{a: 1}", "o").find("a")->text() == "1");
  const std::string unclosed = config_error([] { parse_yaml_value("[1, 2", "--set x=[1, 2"); });
  CHECK(unclosed.find("--set x=[1, 2: ") == 0);
  CHECK(unclosed.find("(is a '[' left unclosed?)") != std::string::npos);
  CHECK(config_error([] { parse_yaml_value("&a [*a]", "o"); }).find("anchors") != std::string::npos);
}

TEST_CASE("yaml loader: mutated configs never crash or hang, they load or give a ConfigError") {
  const std::string seed_text =
      "name: x\ndata:\n  train: {format: idx, images: \"a.gz\", labels: b.gz}\n  validation: {split: 0.1}\n"
      "model:\n  layers:\n    - {type: conv2d, name: conv1, filters: 32}\n    - type: dense\n      units: "
      "10\n"
      "metrics: [accuracy, 'f1']\ntext: |\n  hello\n? complex\n: value\n";
  const std::string alphabet = "[]{}:,-?#&*!|>'\"%@` \n\t\\abc01.";
  std::mt19937 random(12345);
  int loaded = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    std::string text = seed_text;
    const int edits = 1 + static_cast<int>(random() % 12);
    for (int e = 0; e < edits; ++e) {
      const std::size_t position = random() % (text.size() + 1);
      const char c = alphabet[random() % alphabet.size()];
      switch (random() % 3) {
        case 0:
          text.insert(position, 1, c);
          break;
        case 1:
          if (position < text.size()) text.erase(position, 1 + random() % 4);
          break;
        default:
          text.insert(position, text.substr(random() % text.size(), random() % 30));
      }
    }
    try {
      parse_yaml(text, "f.yaml");
      ++loaded;
    } catch (const ConfigError&) {
    }
  }
  CHECK(loaded > 0);
}
