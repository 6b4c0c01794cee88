// Internal to lib/config: a cheap scan of YAML flow brackets before yaml-cpp sees the text. On an
// unclosed `[[[[...` yaml-cpp recurses (and guesses a mapping key) before any parse event could
// stop it, and it reports an unclosed `[` far from where the bracket is.
#pragma once

#include <cstddef>
#include <string_view>

namespace dlrun::detail {

struct FlowScan {
  std::size_t too_deep = std::string_view::npos;  // offset of the first `[`/`{` nested past max_depth
  std::size_t unclosed = std::string_view::npos;  // offset of the innermost `[`/`{` never closed
};

// Counts `[`/`{` where they open flow collections: at the start of a token, or anywhere inside a
// flow collection. Brackets inside quoted strings, comments and plain scalars do not count; those
// inside block scalars may, so it errs towards over-counting (the exact depth check happens on
// the parse events).
FlowScan scan_flow(std::string_view text, int max_depth);

}  // namespace dlrun::detail
