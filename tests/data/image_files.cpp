#include "data/image_files.hpp"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace dlrun::testing {
namespace {

void append(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<std::size_t>(size));
}

}  // namespace

std::string png_bytes(int width, int height, int channels, const std::vector<std::uint8_t>& pixels) {
  std::string bytes;
  stbi_write_png_to_func(append, &bytes, width, height, channels, pixels.data(), width * channels);
  return bytes;
}

std::string jpeg_bytes(int width, int height, int channels, const std::vector<std::uint8_t>& pixels) {
  std::string bytes;
  stbi_write_jpg_to_func(append, &bytes, width, height, channels, pixels.data(), 95);
  return bytes;
}

std::vector<std::uint8_t> solid(int width, int height, const std::vector<std::uint8_t>& colour) {
  std::vector<std::uint8_t> pixels;
  for (int i = 0; i < width * height; ++i) pixels.insert(pixels.end(), colour.begin(), colour.end());
  return pixels;
}

}  // namespace dlrun::testing
