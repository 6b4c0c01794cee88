#include "io/json_cursor.hpp"

#include <algorithm>
#include <limits>
#include <vector>

#include "core/errors.hpp"

namespace dlrun {

namespace {

void append_utf8(std::string& out, std::uint32_t code) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xc0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3f));
  } else if (code < 0x10000) {
    out += static_cast<char>(0xe0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (code & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (code >> 18));
    out += static_cast<char>(0x80 | ((code >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (code & 0x3f));
  }
}

}  // namespace

std::string JsonCursor::Scalar::describe() const {
  if (kind == Kind::list) return "a list";
  if (kind == Kind::object) return "an object";
  return shown_in_message(raw, 40);
}

JsonCursor::JsonCursor(const std::filesystem::path& file, std::string_view text, std::string what)
    : file_(file), text_(text), what_(std::move(what)) {}

void JsonCursor::fail(const std::string& message) const {
  throw DataError(Location{file_.string()}, message);
}

void JsonCursor::syntax_error(const std::string& why) const {
  fail(what_ + " is not valid JSON: " + why + " at byte " + std::to_string(pos_) + " of the " + what_);
}

void JsonCursor::skip_whitespace() {
  while (!at_end()) {
    const char c = text_[pos_];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
    ++pos_;
  }
}

void JsonCursor::expect(char c) {
  if (!consume(c)) syntax_error(std::string("expected '") + c + "'");
}

bool JsonCursor::consume(char c) {
  skip_whitespace();
  if (peek() != c) return false;
  ++pos_;
  return true;
}

std::string JsonCursor::string() {
  // Validated first, then decoded into a string of the raw length (never less than the decoded
  // one): a 16 MiB value costs 16 MiB, not the 48 MiB of a string grown by doubling.
  const std::size_t start = pos_;
  scan_string(nullptr);
  const std::size_t raw_length = pos_ - start - 2;
  pos_ = start;
  std::string text;
  text.reserve(raw_length);
  scan_string(&text);
  return text;
}

// The string starting at the current '"'; its decoded text is appended to `out` unless null.
void JsonCursor::scan_string(std::string* out) {
  ++pos_;  // the opening quote
  for (;;) {
    if (at_end()) syntax_error("the text ends inside a string");
    const auto c = static_cast<unsigned char>(text_[pos_]);
    if (c == '"') {
      ++pos_;
      return;
    }
    if (c < 0x20) syntax_error("a control character inside a string");
    if (c == '\\') {
      scan_escape(out);
    } else if (c < 0x80) {
      if (out) *out += static_cast<char>(c);
      ++pos_;
    } else {
      scan_utf8(out);
    }
  }
}

// One UTF-8 sequence as RFC 3629 allows it: no overlong forms, no surrogates, at most U+10FFFF.
void JsonCursor::scan_utf8(std::string* out) {
  const auto lead = static_cast<unsigned char>(text_[pos_]);
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xbf;  // the range allowed for the second byte
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;
    if (lead == 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;
    if (lead == 0xf4) high = 0x8f;
  } else {
    syntax_error("invalid UTF-8");
  }
  if (text_.size() - pos_ < length) syntax_error("invalid UTF-8 (the text ends inside a character)");
  for (std::size_t i = 1; i < length; ++i) {
    const auto c = static_cast<unsigned char>(text_[pos_ + i]);
    if (i == 1 ? (c < low || c > high) : (c < 0x80 || c > 0xbf)) syntax_error("invalid UTF-8");
  }
  if (out) out->append(text_.substr(pos_, length));
  pos_ += length;
}

std::uint32_t JsonCursor::hex4() {
  if (text_.size() - pos_ < 4) syntax_error("a \\u escape cut short");
  std::uint32_t code = 0;
  for (int i = 0; i < 4; ++i) {
    const char c = text_[pos_];
    std::uint32_t digit = 0;
    if (c >= '0' && c <= '9') {
      digit = static_cast<std::uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<std::uint32_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      digit = static_cast<std::uint32_t>(c - 'A' + 10);
    } else {
      syntax_error("a \\u escape with a non-hex digit");
    }
    code = code << 4 | digit;
    ++pos_;
  }
  return code;
}

void JsonCursor::scan_escape(std::string* out) {
  ++pos_;  // the backslash
  if (at_end()) syntax_error("the text ends inside an escape");
  constexpr std::string_view kEscaped = "\"\\/bfnrt";
  constexpr std::string_view kMeaning = "\"\\/\b\f\n\r\t";
  const char c = text_[pos_];
  if (const auto at = kEscaped.find(c); at != std::string_view::npos) {
    if (out) *out += kMeaning[at];
    ++pos_;
    return;
  }
  if (c != 'u') syntax_error("an invalid escape");
  ++pos_;
  std::uint32_t code = hex4();
  if (code >= 0xdc00 && code <= 0xdfff) syntax_error("a lone UTF-16 low surrogate");
  if (code >= 0xd800 && code <= 0xdbff) {
    if (text_.substr(pos_, 2) != "\\u") syntax_error("a UTF-16 high surrogate without its pair");
    pos_ += 2;
    const std::uint32_t second = hex4();
    if (second < 0xdc00 || second > 0xdfff) syntax_error("a UTF-16 high surrogate without its pair");
    code = 0x10000 + ((code - 0xd800) << 10) + (second - 0xdc00);
  }
  if (out) append_utf8(*out, code);
}

// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?; the value only for a non-negative integer literal
// that fits 64 bits (1.0, 1e2 and -0 are not integers here). Never converted to double, so 1e400
// is just a token.
JsonCursor::Scalar JsonCursor::number() {
  const std::size_t start = pos_;
  const auto digit = [&] { return !at_end() && text_[pos_] >= '0' && text_[pos_] <= '9'; };
  const auto digits = [&] {
    if (!digit()) syntax_error("a number with a missing digit");
    while (digit()) ++pos_;
  };
  const bool negative = peek() == '-';
  if (negative) ++pos_;
  if (peek() == '0') {
    ++pos_;
    if (digit()) syntax_error("a number with a leading zero");
  } else {
    digits();
  }
  bool integer = true;
  if (peek() == '.') {
    ++pos_;
    digits();
    integer = false;
  }
  if (peek() == 'e' || peek() == 'E') {
    ++pos_;
    if (peek() == '+' || peek() == '-') ++pos_;
    digits();
    integer = false;
  }
  Scalar scalar{Scalar::Kind::number, text_.substr(start, pos_ - start), std::nullopt};
  if (negative || !integer) return scalar;
  std::uint64_t value = 0;
  for (const char c : scalar.raw) {
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return scalar;
    value = value * 10 + d;
  }
  scalar.value = value;
  return scalar;
}

JsonCursor::Scalar JsonCursor::scalar() {
  const std::size_t start = pos_;
  const char c = peek();
  if (c == '[') return {Scalar::Kind::list, {}, std::nullopt};
  if (c == '{') return {Scalar::Kind::object, {}, std::nullopt};
  if (c == '"') {
    scan_string(nullptr);
    return {Scalar::Kind::string, text_.substr(start, pos_ - start), std::nullopt};
  }
  if (c == '-' || (c >= '0' && c <= '9')) return number();
  for (const std::string_view word : {"true", "false", "null"}) {
    if (text_.substr(pos_, word.size()) == word) {
      pos_ += word.size();
      return {Scalar::Kind::literal, word, std::nullopt};
    }
  }
  if (at_end()) syntax_error("the text ends where a value should be");
  syntax_error("an unexpected character where a value should be");
}

void JsonCursor::read_key() {
  skip_whitespace();
  if (peek() != '"') syntax_error("expected a key string");
  scan_string(nullptr);
  expect(':');
}

bool JsonCursor::skip_value(std::size_t max_depth) {
  std::vector<char> open;  // the closing bracket of each enclosing container
  for (;;) {
    // At the start of a value: a scalar, or a container that is entered.
    skip_whitespace();
    const char c = peek();
    if (c == '[' || c == '{') {
      if (open.size() == max_depth) return false;
      ++pos_;
      const char close = c == '[' ? ']' : '}';
      if (!consume(close)) {
        open.push_back(close);
        if (close == '}') read_key();
        continue;
      }
    } else {
      scalar();
    }
    // After a value: close containers until one goes on with ','.
    for (;;) {
      if (open.empty()) return true;
      if (consume(open.back())) {
        open.pop_back();
        continue;
      }
      if (!consume(',')) syntax_error(std::string("expected ',' or '") + open.back() + "'");
      if (open.back() == '}') read_key();
      break;
    }
  }
}

std::string shown_in_message(std::string_view text, std::size_t limit) {
  std::size_t cut = std::min(limit, text.size());
  if (cut < text.size()) {
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80) --cut;
  }
  std::string shown;
  for (const char c : text.substr(0, cut)) {
    const auto byte = static_cast<unsigned char>(c);
    shown += byte < 0x20 || byte == 0x7f ? '?' : c;
  }
  if (cut < text.size()) shown += "...";
  return shown;
}

}  // namespace dlrun
