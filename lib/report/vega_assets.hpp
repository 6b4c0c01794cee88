// vega, vega-lite and vega-embed (third_party/vega, BSD-3), compiled into the library by
// cmake/embed_files.cmake so that a report's HTML carries its charting code and opens offline.
#pragma once

#include <string_view>

namespace dlrun::report {

std::string_view vega_js();
std::string_view vega_lite_js();
std::string_view vega_embed_js();

}  // namespace dlrun::report
