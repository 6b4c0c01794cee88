// NPY reader: an inputs file and a labels file (split_two_files); the flags byte picks the label
// kind (classes, targets, none) and whether a labels file is given.
#include "data/npy_reader.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto inputs = dlrun::fuzz::scratch_path("inputs.npy");
  static const auto labels = dlrun::fuzz::scratch_path("labels.npy");
  const dlrun::fuzz::TwoFiles files = dlrun::fuzz::split_two_files(data, size);
  auto write = [](const std::filesystem::path& path, std::string_view bytes) {
    dlrun::fuzz::write_bytes(path, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  };
  write(inputs, files.first);
  write(labels, files.second);
  static constexpr dlrun::LabelKind kKinds[] = {dlrun::LabelKind::classes, dlrun::LabelKind::targets,
                                                dlrun::LabelKind::none};
  const dlrun::LabelKind kind = kKinds[(files.flags >> 1) % 3];
  dlrun::fuzz::expect_only_dlrun_errors(
      [&] { dlrun::read_npy(inputs, (files.flags & 1) ? labels : std::filesystem::path(), kind); });
  return 0;
}
