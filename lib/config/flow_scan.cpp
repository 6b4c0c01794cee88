#include "config/flow_scan.hpp"

#include <vector>

namespace dlrun::detail {
namespace {

bool is_blank(std::string_view text, std::size_t i) {
  return i >= text.size() || text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r';
}

}  // namespace

FlowScan scan_flow(std::string_view text, int max_depth) {
  FlowScan scan;
  std::vector<std::size_t> open;  // offsets of the open brackets
  bool token_start = true;        // a `[` or `{` here would open a flow collection
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool in_flow = !open.empty();
    if (c == '\n') {
      token_start = true;
    } else if (c == ' ' || c == '\t' || c == '\r') {
      // whitespace keeps the state
    } else if (c == '#' && (i == 0 || is_blank(text, i - 1))) {
      while (i + 1 < text.size() && text[i + 1] != '\n') ++i;
    } else if ((c == '"' || c == '\'') && (token_start || in_flow)) {
      for (++i; i < text.size() && text[i] != c; ++i) {
        if (c == '"' && text[i] == '\\') ++i;
      }
      token_start = false;
    } else if ((c == '[' || c == '{') && (token_start || in_flow)) {
      open.push_back(i);
      if (static_cast<int>(open.size()) > max_depth) {
        scan.too_deep = i;
        return scan;
      }
      token_start = true;
    } else if ((c == ']' || c == '}') && in_flow) {
      open.pop_back();
      token_start = false;
    } else if ((c == ',' && in_flow) || ((c == ':' || c == '-' || c == '?') && is_blank(text, i + 1))) {
      token_start = true;
    } else {
      token_start = false;
    }
  }
  if (!open.empty()) scan.unclosed = open.back();
  return scan;
}

}  // namespace dlrun::detail
