// Safetensors checkpoint reader: the input is the whole file.
#include "fuzz_support.hpp"
#include "io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto path = dlrun::fuzz::scratch_path("checkpoint.safetensors");
  dlrun::fuzz::write_bytes(path, data, size);
  dlrun::fuzz::expect_only_dlrun_errors([&] { dlrun::read_safetensors(path); });
  return 0;
}
