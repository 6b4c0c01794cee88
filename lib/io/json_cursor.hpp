// A strict streaming reader over untrusted JSON text (RFC 8259) that builds no document tree: the
// caller walks the text value by value and keeps only what it needs, so memory stays within the
// text's size and nesting costs no recursion. Used for safetensors headers (safetensors_header.cpp).
// Every syntax error is a DataError "<file>: <what> is not valid JSON: <why> at byte N of the <what>".
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace dlrun {

class JsonCursor {
 public:
  // A value where a scalar is wanted: a string, number or literal is consumed; a list or an object
  // is only recognised (the caller refuses it without reading it).
  struct Scalar {
    enum class Kind { string, number, literal, list, object } kind = Kind::number;
    std::string_view raw;                // the token as written
    std::optional<std::uint64_t> value;  // for a non-negative integer literal that fits 64 bits
    std::string describe() const;        // "a list", "an object", or the token (shortened)
  };

  // `what` names the text in messages ("header").
  JsonCursor(const std::filesystem::path& file, std::string_view text, std::string what);

  bool at_end() const { return pos_ >= text_.size(); }
  // The next byte, or '\0' at the end (a NUL byte is never valid JSON there either).
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  std::size_t position() const { return pos_; }

  void skip_whitespace();
  // Skips whitespace, then requires and consumes `c`.
  void expect(char c);
  // Skips whitespace; consumes `c` and returns true when it comes next.
  bool consume(char c);

  // The string at the cursor ('"'), decoded (escapes, surrogate pairs) and checked to be UTF-8.
  std::string string();
  Scalar scalar();
  // Validates and skips one value of any kind, iteratively. False when it nests more than
  // `max_depth` containers deep: the cursor is then inside it, and the caller reports the error.
  [[nodiscard]] bool skip_value(std::size_t max_depth);

  // The members of the object whose '{' was just consumed: `member(key)` is called with the cursor
  // at each key's value (whitespace skipped) and must consume it. `context` names the object in
  // syntax errors (a fixed text: nothing is built per call).
  template <typename Member>
  void for_each_member(std::string_view context, Member&& member) {
    if (consume('}')) return;
    do {
      skip_whitespace();
      if (peek() != '"') syntax_error("expected a key string in " + std::string(context));
      std::string key = string();
      expect(':');
      skip_whitespace();
      member(std::move(key));
    } while (consume(','));
    if (!consume('}')) syntax_error("expected ',' or '}' in " + std::string(context));
  }

  // The elements of the list whose '[' was just consumed; `element(index)` consumes each.
  template <typename Element>
  void for_each_element(std::string_view context, Element&& element) {
    if (consume(']')) return;
    std::size_t index = 0;
    do {
      skip_whitespace();
      element(index++);
    } while (consume(','));
    if (!consume(']')) syntax_error("expected ',' or ']' in " + std::string(context));
  }

  [[noreturn]] void fail(const std::string& message) const;
  [[noreturn]] void syntax_error(const std::string& why) const;

 private:
  void scan_string(std::string* out);
  void scan_utf8(std::string* out);
  void scan_escape(std::string* out);
  std::uint32_t hex4();
  Scalar number();
  void read_key();

  const std::filesystem::path& file_;
  std::string_view text_;
  std::string what_;
  std::size_t pos_ = 0;
};

// `text` cut to about `limit` bytes (not inside a UTF-8 character) with control characters replaced
// by '?', for messages: a name from a hostile file must neither flood nor break the one-line error.
std::string shown_in_message(std::string_view text, std::size_t limit = 60);

}  // namespace dlrun
