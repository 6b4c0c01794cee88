#include "data/image_folder_reader.hpp"

#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "core/errors.hpp"
#include "data/file_bytes.hpp"

namespace dlrun {
namespace {

namespace fs = std::filesystem;

bool hidden(const fs::path& path) {
  return path.filename().string().starts_with(".");
}

std::vector<fs::path> sorted_entries(const fs::path& directory, bool folders) {
  std::vector<fs::path> entries;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(directory, error)) {
    if (hidden(entry.path())) continue;
    if (folders ? entry.is_directory() : (entry.is_regular_file() && is_image_file_name(entry.path())))
      entries.push_back(entry.path());
  }
  if (error) throw DataError(directory.string() + ": cannot list the folder: " + error.message());
  std::sort(entries.begin(), entries.end());
  return entries;
}

// Decodes one image into `out` (channels x height x width, uint8, planar).
void read_image(const fs::path& file, const ImageFolderSpec& spec, std::vector<std::uint8_t>& pixels,
                std::uint8_t* out) {
  const FileBytes file_bytes = read_file_bytes(file, "image");
  if (file_bytes.bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw DataError(file.string() + ": image file too large");
  int width = 0, height = 0, found_channels = 0;
  const int channels = static_cast<int>(spec.channels);
  // stb converts grey, grey+alpha, RGB and RGBA to the channel count asked for.
  std::unique_ptr<stbi_uc, void (*)(void*)> decoded(
      stbi_load_from_memory(file_bytes.bytes.data(), static_cast<int>(file_bytes.bytes.size()), &width,
                            &height, &found_channels, channels),
      stbi_image_free);
  if (!decoded) {
    throw DataError(file.string() + ": not a readable PNG, JPEG or BMP image (" + stbi_failure_reason() +
                    ")");
  }
  const int out_h = static_cast<int>(spec.height), out_w = static_cast<int>(spec.width);
  const std::size_t interleaved =
      static_cast<std::size_t>(out_h) * static_cast<std::size_t>(out_w) * channels;
  pixels.resize(interleaved);
  if (width == out_w && height == out_h) {
    std::copy_n(decoded.get(), interleaved, pixels.data());
  } else if (stbir_resize_uint8(decoded.get(), width, height, 0, pixels.data(), out_w, out_h, 0, channels) ==
             0) {
    throw DataError(file.string() + ": could not resize the image to " + std::to_string(out_h) + "x" +
                    std::to_string(out_w));
  }
  // HWC (stb) -> CHW (dlrun's NCHW).
  const std::size_t plane = static_cast<std::size_t>(out_h) * static_cast<std::size_t>(out_w);
  for (std::size_t p = 0; p < plane; ++p)
    for (int c = 0; c < channels; ++c)
      out[static_cast<std::size_t>(c) * plane + p] = pixels[p * channels + c];
}

}  // namespace

bool is_image_file_name(const fs::path& name) {
  std::string extension = name.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension == ".png" || extension == ".jpg" || extension == ".jpeg" || extension == ".bmp";
}

Dataset read_image_folder(const ImageFolderSpec& spec, bool with_labels) {
  const fs::path& directory = spec.directory;
  if (!fs::exists(directory)) throw DataError(directory.string() + ": image folder not found");
  if (!fs::is_directory(directory))
    throw DataError(directory.string() + ": not a folder (image_folder data)");
  require(spec.height > 0 && spec.width > 0 && (spec.channels == 1 || spec.channels == 3),
          "read_image_folder: size and channels are checked by the config");
  const std::vector<fs::path> classes = sorted_entries(directory, true);
  if (classes.empty()) {
    throw DataError(directory.string() + ": no class folders (image_folder data is DIR/<class>/<image>)");
  }
  Dataset dataset;
  dataset.source = directory.string();
  dataset.sample_shape = Shape{spec.channels, spec.height, spec.width};
  const std::size_t per_image = static_cast<std::size_t>(spec.channels * spec.height * spec.width);
  std::vector<std::uint8_t> pixels;
  for (std::size_t c = 0; c < classes.size(); ++c) {
    const std::vector<fs::path> images = sorted_entries(classes[c], false);
    if (images.empty()) {
      throw DataError(classes[c].string() + ": class folder without images (.png, .jpg, .jpeg, .bmp)");
    }
    if (with_labels) dataset.class_names.push_back(classes[c].filename().string());
    for (const fs::path& image : images) {
      const std::size_t at = dataset.bytes.size();
      dataset.bytes.resize(at + per_image);
      read_image(image, spec, pixels, dataset.bytes.data() + at);
      if (with_labels) dataset.labels.push_back(static_cast<std::int32_t>(c));
    }
  }
  return dataset;
}

}  // namespace dlrun
