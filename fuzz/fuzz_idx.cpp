// IDX reader: an images file and, when bit 0 of the flags byte is set, a labels file (the input
// layout of split_two_files). Bit 1 reads the first file alone with read_idx_array.
#include "data/idx_reader.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto images = dlrun::fuzz::scratch_path("images.idx");
  static const auto labels = dlrun::fuzz::scratch_path("labels.idx");
  const dlrun::fuzz::TwoFiles files = dlrun::fuzz::split_two_files(data, size);
  auto write = [](const std::filesystem::path& path, std::string_view bytes) {
    dlrun::fuzz::write_bytes(path, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  };
  write(images, files.first);
  write(labels, files.second);
  dlrun::fuzz::expect_only_dlrun_errors([&] {
    if (files.flags & 2) {
      dlrun::read_idx_array(images, "IDX file");
    } else {
      dlrun::read_idx(images, (files.flags & 1) ? labels : std::filesystem::path());
    }
  });
  return 0;
}
