// PNG and JPEG bytes for image-folder tests, encoded at run time with stb_image_write (libstb-dev).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dlrun::testing {

// `pixels`: height x width x channels, interleaved (as image files store them).
std::string png_bytes(int width, int height, int channels, const std::vector<std::uint8_t>& pixels);
std::string jpeg_bytes(int width, int height, int channels, const std::vector<std::uint8_t>& pixels);
// A width x height image of one colour (`channels` values).
std::vector<std::uint8_t> solid(int width, int height, const std::vector<std::uint8_t>& colour);

}  // namespace dlrun::testing
