// How layers name themselves in error messages: "layer 'conv1' (conv2d)".
#pragma once

#include <string>
#include <string_view>

namespace dlrun {

inline std::string layer_label(std::string_view name, std::string_view kind) {
  if (name.empty()) return std::string(kind);
  return "layer '" + std::string(name) + "' (" + std::string(kind) + ")";
}

}  // namespace dlrun
