#include "config/config.hpp"

namespace dlrun {

std::vector<std::filesystem::path> DataSource::files() const {
  std::vector<std::filesystem::path> result;
  for (const auto* file : {&images, &labels, &path, &inputs}) {
    if (!file->empty()) result.push_back(*file);
  }
  return result;
}

}  // namespace dlrun
