// Helpers for tests that check error messages.
#pragma once

#include <exception>
#include <functional>
#include <string>
#include <string_view>

namespace dlrun::testing {

// The message of the exception `action` throws, or "(no exception)".
inline std::string message_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const std::exception& error) {
    return error.what();
  }
  return "(no exception)";
}

inline bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

}  // namespace dlrun::testing
