#include <doctest/doctest.h>

#include "core/errors.hpp"
#include "io/sha256.hpp"
#include "support/temp_dir.hpp"

using namespace dlrun;

// Known answers from FIPS 180-4's examples and NIST's test vectors.
TEST_CASE("sha256: known vectors") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256_hex(std::string(1'000'000, 'a')) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256: padding edges (55, 56, 63, 64 bytes) and chunked updates agree with one-shot") {
  // 55 bytes is the longest message padded within one block; 56 needs a second block.
  CHECK(sha256_hex(std::string(55, 'a')) ==
        "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  CHECK(sha256_hex(std::string(56, 'a')) ==
        "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  CHECK(sha256_hex(std::string(64, 'a')) ==
        "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
  std::string text;
  for (int i = 0; i < 1000; ++i) text += static_cast<char>(i * 7 + 3);
  const std::string whole = sha256_hex(text);
  for (const std::size_t chunk : {1, 3, 63, 64, 65, 200}) {
    CAPTURE(chunk);
    Sha256 hash;
    for (std::size_t at = 0; at < text.size(); at += chunk)
      hash.update(std::string_view(text).substr(at, chunk));
    CHECK(hash.hex_digest() == whole);
  }
}

TEST_CASE("sha256: a file is hashed in chunks across the 1 MiB boundary") {
  testing::TempDir dir;
  const std::string content = std::string(1'000'000, 'a');
  testing::write_bytes(dir / "a.bin", content);
  CHECK(sha256_file_hex(dir / "a.bin") == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  std::string longer((1 << 20) * 2 + 17, '\0');
  for (std::size_t i = 0; i < longer.size(); ++i) longer[i] = static_cast<char>(i * 31 % 251);
  testing::write_bytes(dir / "b.bin", longer);
  CHECK(sha256_file_hex(dir / "b.bin") == sha256_hex(longer));
  testing::write_bytes(dir / "empty.bin", "");
  CHECK(sha256_file_hex(dir / "empty.bin") == sha256_hex(""));
  CHECK_THROWS_AS(sha256_file_hex(dir / "missing.bin"), DataError);
}
