#include "config/emit.hpp"

#include <cstdio>
#include <string_view>

namespace dlrun {
namespace {

bool is_null_word(std::string_view text) {
  return text == "~" || text == "null" || text == "Null" || text == "NULL";
}

bool is_non_finite_word(std::string_view text) {
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) text.remove_prefix(1);
  return text == ".nan" || text == ".NaN" || text == ".NAN" || text == ".inf" || text == ".Inf" ||
         text == ".INF";
}

// Whether `text` written plain in block context reads back as the same plain scalar. Conservative:
// anything doubtful is quoted.
bool plain_is_safe(std::string_view text) {
  if (text.empty() || is_null_word(text) || is_non_finite_word(text)) return false;
  const char first = text.front();
  const char last = text.back();
  if (first == ' ' || first == '\t' || last == ' ' || last == '\t' || last == ':') return false;
  // "-", "?" and ":" start a plain scalar only when a non-blank character follows ("-1", ":x").
  if (first == '-' || first == '?' || first == ':') {
    if (text.size() == 1 || text[1] == ' ' || text[1] == '\t') return false;
  } else if (std::string_view(",[]{}#&*!|>'\"%@`").find(first) != std::string_view::npos) {
    return false;
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;  // line breaks and other controls
    const bool blank_after = i + 1 < text.size() && (text[i + 1] == ' ' || text[i + 1] == '\t');
    const bool blank_before = i > 0 && (text[i - 1] == ' ' || text[i - 1] == '\t');
    if ((c == ':' && blank_after) || (c == '#' && blank_before)) return false;
  }
  // A leading "---" or "..." would end the document.
  return !text.starts_with("---") && !text.starts_with("...");
}

std::string double_quoted(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char escape[8];
          std::snprintf(escape, sizeof escape, "\\x%02x",
                        static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += escape;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

constexpr std::size_t kMaxImplicitKey = 1024;

std::string key_text(const std::string& key) {
  return plain_is_safe(key) ? key : double_quoted(key);
}

bool is_inline(const Node& node) {
  return node.is_null() || node.is_scalar() || (node.is_sequence() && node.items().empty()) ||
         (node.is_map() && node.entries().empty());
}

// A node that fits on the rest of a line.
std::string inline_text(const Node& node) {
  if (node.is_null()) return "null";
  if (node.is_sequence()) return "[]";
  if (node.is_map()) return "{}";
  return !node.quoted() && plain_is_safe(node.text()) ? node.text() : double_quoted(node.text());
}

// Writes a non-empty list or mapping, one line per entry, each line starting with `indent` spaces.
void write_block(const Node& node, int indent, std::string& out) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  if (node.is_map()) {
    for (const NodeEntry& entry : node.entries()) {
      const std::string key = key_text(entry.key);
      // YAML limits an implicit key ("key: value") to 1024 characters; a longer one (a search
      // space's choice label, say) is written as an explicit key: "? key" then ": value".
      out += key.size() <= kMaxImplicitKey ? pad + key + ":" : pad + "? " + key + "\n" + pad + ":";
      if (is_inline(entry.value)) {
        out += " " + inline_text(entry.value) + "\n";
      } else {
        out += "\n";
        write_block(entry.value, indent + 2, out);
      }
    }
    return;
  }
  for (const Node& item : node.items()) {
    if (is_inline(item)) {
      out += pad + "- " + inline_text(item) + "\n";
      continue;
    }
    // The nested block's first line carries the dash: "- a: 1\n  b: 2", "- - x\n  - y".
    std::string nested;
    write_block(item, indent + 2, nested);
    out += pad + "- " + nested.substr(static_cast<std::size_t>(indent) + 2);
  }
}

}  // namespace

std::string to_yaml(const Node& node) {
  if (is_inline(node)) return inline_text(node) + "\n";
  std::string out;
  write_block(node, 0, out);
  return out;
}

}  // namespace dlrun
