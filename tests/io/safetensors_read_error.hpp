// What reading a safetensors file gives, as text, for the reader's tests.
#pragma once

#include <exception>
#include <filesystem>
#include <string>

#include "core/errors.hpp"
#include "io/safetensors.hpp"

namespace dlrun::testing {

// The DataError message of reading `path`, "no error" when it reads, or "wrong exception: ...".
inline std::string safetensors_read_error(const std::filesystem::path& path) {
  try {
    read_safetensors(path);
    return "no error";
  } catch (const DataError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong exception: ") + e.what();
  }
}

}  // namespace dlrun::testing
