// Shared by the harnesses: the readers take file paths, so each input is written to a file in
// /dev/shm (memory, no disk) that the harness then reads back through the real loader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>

#include "core/errors.hpp"

namespace dlrun::fuzz {

// A per-process file path ending in `suffix`, e.g. "/dev/shm/dlrun-fuzz-1234-images.idx", removed
// when the process exits normally.
std::filesystem::path scratch_path(std::string_view suffix);

// Writes `size` bytes to `path` (replacing it). Aborts when the write fails: a harness that
// cannot write its input would report nothing.
void write_bytes(const std::filesystem::path& path, const std::uint8_t* data, std::size_t size);

// Splits an input that carries two files: byte 0 is free for the harness, bytes 1-4 are the length
// of the first file (little-endian, clamped to what is there), then the first file, then the
// second. fuzz/make_seeds.py writes seeds in this layout.
struct TwoFiles {
  std::uint8_t flags = 0;
  std::string_view first;
  std::string_view second;
};
TwoFiles split_two_files(const std::uint8_t* data, std::size_t size);

// The loaders may throw only DlrunError (a clear message and an exit code). Anything else
// escaping them is a bug: this aborts so that libFuzzer records the input.
template <typename Body>
void expect_only_dlrun_errors(Body body) {
  try {
    body();
  } catch (const DlrunError&) {
  }
}

}  // namespace dlrun::fuzz
