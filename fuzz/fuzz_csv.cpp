// CSV reader. Byte 0 picks the options: bit 0 header, bits 1-2 the label kind (classes,
// targets, none), bit 3 tab instead of comma, bits 4-5 the label column ("" = last, "y", "x1"),
// bit 6 a feature list [x1, x2]. The rest is the file.
#include "data/csv_reader.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto path = dlrun::fuzz::scratch_path("data.csv");
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  dlrun::fuzz::write_bytes(path, data + 1, size - 1);
  dlrun::DataSource source;
  source.format = "csv";
  source.path = path;
  source.header = flags & 1;
  source.delimiter = (flags & 8) ? '\t' : ',';
  static const char* const kLabels[] = {"", "y", "x1", ""};
  source.label_column = kLabels[(flags >> 4) & 3];
  if (flags & 64) source.features = {"x1", "x2"};
  source.where = dlrun::Location{"fuzz.yaml", 1, 1};
  static constexpr dlrun::LabelKind kKinds[] = {dlrun::LabelKind::classes, dlrun::LabelKind::targets,
                                                dlrun::LabelKind::none, dlrun::LabelKind::classes};
  const dlrun::LabelKind kind = kKinds[(flags >> 1) & 3];
  dlrun::fuzz::expect_only_dlrun_errors([&] { dlrun::read_csv(source, kind); });
  return 0;
}
