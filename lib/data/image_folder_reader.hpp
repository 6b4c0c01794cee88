// Image folders (torchvision's ImageFolder layout): DIR/<class>/<image>, one subfolder per class,
// classes in sorted order of their folder names. PNG, JPEG and BMP files are decoded with stb_image
// (Debian's libstb-dev), converted to the configured channel count (1: grey, 3: RGB), resized to
// H x W with stb_image_resize, and kept as uint8 in NCHW order like IDX images (scale: 255 maps
// them to [0, 1]). Other files (and hidden ones) are ignored; images are read in sorted name order.
#pragma once

#include <filesystem>

#include "data/dataset.hpp"

namespace dlrun {

struct ImageFolderSpec {
  std::filesystem::path directory;
  Index height = 0;
  Index width = 0;
  Index channels = 3;  // 1 or 3
};

// True for the file names read as images (.png, .jpg, .jpeg, .bmp, any case).
bool is_image_file_name(const std::filesystem::path& name);

// Throws DataError naming the folder or file: a missing folder or one without class subfolders, a
// class folder without images, an image stb cannot decode (truncated, corrupt, not an image).
// `with_labels` false (autoencoders) leaves Dataset::labels empty.
Dataset read_image_folder(const ImageFolderSpec& spec, bool with_labels);

}  // namespace dlrun
