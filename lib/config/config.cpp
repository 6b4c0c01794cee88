#include "config/config.hpp"

namespace dlrun {

std::vector<std::filesystem::path> DataSource::files() const {
  std::vector<std::filesystem::path> result;
  for (const auto* file : {&images, &labels, &path, &inputs}) {
    // An image folder's path is a folder: its images are not hashed one by one.
    if (!file->empty() && !(format == "image_folder" && file == &path)) result.push_back(*file);
  }
  return result;
}

}  // namespace dlrun
