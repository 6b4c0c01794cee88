// Helpers for the lib/config tests: temporary config files and catching ConfigError messages.
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>

#include "core/errors.hpp"
#include "support/temp_dir.hpp"

namespace dlrun::testing {

// The message of the ConfigError that `action` throws; fails the test (and returns "") otherwise.
inline std::string config_error(const std::function<void()>& action) {
  try {
    action();
  } catch (const ConfigError& error) {
    CHECK(error.exit_code() == 2);
    return error.what();
  }
  FAIL_CHECK("expected a ConfigError");
  return "";
}

}  // namespace dlrun::testing
