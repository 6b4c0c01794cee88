// data/image_folder_reader: DIR/<class>/<image> as uint8 NCHW examples, classes in sorted folder
// order, resized to the configured size and channel count; malformed folders and files are
// DataErrors naming them; the config keys (size, channels) are checked.
#include <doctest/doctest.h>

#include "config/parse_config.hpp"
#include "core/errors.hpp"
#include "data/image_files.hpp"
#include "data/image_folder_reader.hpp"
#include "data/load.hpp"
#include "support/messages.hpp"
#include "support/temp_dir.hpp"

using namespace dlrun;
using namespace dlrun::testing;

TEST_CASE(
    "image folder: classes in sorted folder order, pixels in CHW order, hidden and other files ignored") {
  TempDir dir;
  // A 3x2 RGB image whose every byte differs: pixel p has channels (10p, 10p+1, 10p+2).
  std::vector<std::uint8_t> pixels;
  for (int p = 0; p < 6; ++p)
    for (int c = 0; c < 3; ++c) pixels.push_back(static_cast<std::uint8_t>(10 * p + c));
  dir.write("images/dog/b.png", png_bytes(3, 2, 3, pixels));
  dir.write("images/dog/a.PNG", png_bytes(3, 2, 3, solid(3, 2, {1, 2, 3})));
  dir.write("images/cat/x.png", png_bytes(3, 2, 3, solid(3, 2, {200, 100, 50})));
  dir.write("images/cat/.hidden.png", "not read");
  dir.write("images/cat/notes.txt", "not an image");
  dir.write("images/.thumbnails/y.png", "not read");

  const Dataset data = read_image_folder({dir / "images", 2, 3, 3}, true);
  CHECK(data.class_names == std::vector<std::string>{"cat", "dog"});
  CHECK(data.labels == std::vector<std::int32_t>{0, 1, 1});
  CHECK(data.sample_shape == Shape{3, 2, 3});
  REQUIRE(data.size() == 3);
  CHECK(data.floats.empty());  // kept as uint8, like IDX
  // cat/x.png: plane R = 200..., then G, then B.
  CHECK(data.raw(0, 0) == 200.0f);
  CHECK(data.raw(0, 6) == 100.0f);
  CHECK(data.raw(0, 12) == 50.0f);
  // dog/a.PNG (sorted before b.png), then dog/b.png channel c of pixel p at c * 6 + p.
  CHECK(data.raw(1, 0) == 1.0f);
  for (int p = 0; p < 6; ++p)
    for (int c = 0; c < 3; ++c) CHECK(data.raw(2, c * 6 + p) == static_cast<float>(10 * p + c));
}

TEST_CASE("image folder: mixed sizes, grey and RGB, PNG and JPEG become the configured size and channels") {
  TempDir dir;
  dir.write("d/a/big.png", png_bytes(9, 7, 3, solid(9, 7, {90, 90, 90})));
  dir.write("d/a/small.png", png_bytes(2, 3, 1, solid(2, 3, {40})));
  dir.write("d/b/photo.jpg", jpeg_bytes(8, 8, 3, solid(8, 8, {160, 160, 160})));
  dir.write("d/b/rgba.png", png_bytes(5, 5, 4, solid(5, 5, {250, 250, 250, 255})));
  const Dataset grey = read_image_folder({dir / "d", 4, 4, 1}, true);
  CHECK(grey.sample_shape == Shape{1, 4, 4});
  REQUIRE(grey.size() == 4);
  // A one-colour image stays that colour when resized (JPEG within its rounding).
  for (Index f = 0; f < 16; ++f) {
    CHECK(grey.raw(0, f) == 90.0f);
    CHECK(grey.raw(1, f) == 40.0f);
    CHECK(std::abs(grey.raw(2, f) - 160.0f) <= 2.0f);
    CHECK(grey.raw(3, f) == 250.0f);
  }
  const Dataset rgb = read_image_folder({dir / "d", 3, 5, 3}, false);
  CHECK(rgb.sample_shape == Shape{3, 3, 5});
  CHECK(rgb.size() == 4);
  CHECK(rgb.labels.empty());       // autoencoders: no labels
  CHECK(rgb.raw(1, 14) == 40.0f);  // grey becomes R = G = B
}

TEST_CASE("image folder: missing or empty folders, empty classes and undecodable images are DataErrors") {
  TempDir dir;
  const auto fails = [&](const std::string& folder) {
    return message_of([&] { read_image_folder({dir / folder, 4, 4, 1}, true); });
  };
  CHECK(contains(fails("nowhere"), "image folder not found"));
  dir.write("file.png", png_bytes(2, 2, 1, solid(2, 2, {0})));
  CHECK(contains(fails("file.png"), "not a folder"));
  dir.write("flat/a.png", png_bytes(2, 2, 1, solid(2, 2, {0})));
  CHECK(contains(fails("flat"), "no class folders"));

  dir.write("empty/a/one.png", png_bytes(2, 2, 1, solid(2, 2, {0})));
  dir.write("empty/b/readme.txt", "no images here");
  CHECK(contains(fails("empty"), "b: class folder without images"));

  const std::string png = png_bytes(16, 16, 3, solid(16, 16, {7, 8, 9}));
  dir.write("truncated/a/ok.png", png);
  dir.write("truncated/a/cut.png", png.substr(0, png.size() / 2));
  const std::string cut = fails("truncated");
  CHECK(contains(cut, "cut.png: not a readable PNG, JPEG or BMP image"));
  CHECK_THROWS_AS(read_image_folder({dir / "truncated", 4, 4, 1}, true), DataError);

  dir.write("text/a/fake.jpg", "this is not a JPEG");
  CHECK(contains(fails("text"), "fake.jpg: not a readable"));
}

TEST_CASE("image folder config: size is required, channels 1 or 3; classes need a classification loss") {
  TempDir dir;
  dir.write("img/a/1.png", png_bytes(4, 4, 1, solid(4, 4, {10})));
  dir.write("img/b/2.png", png_bytes(6, 2, 1, solid(6, 2, {200})));
  dir.write("val/b/3.png", png_bytes(4, 4, 1, solid(4, 4, {210})));
  const auto config_with = [&](const std::string& source, const std::string& loss = "cross_entropy") {
    return dir.write("c.yaml",
                     "data:\n  train: " + source +
                         "\n  validation: {format: image_folder, path: val, size: [4, 4], channels: 1}\n"
                         "model:\n  layers:\n    - {type: flatten}\n    - {type: dense, units: 2}\n"
                         "loss: " +
                         loss + "\n");
  };
  const Config config =
      load_config(config_with("{format: image_folder, path: img, size: [4, 4], channels: 1}"), {});
  const LoadedData data = load_data(config.data, true, 1);
  CHECK(data.train.dataset->sample_shape == Shape{1, 4, 4});
  CHECK(data.train.size() == 2);
  // The validation folder has class b only: its labels follow the training classes.
  REQUIRE(data.validation.size() == 1);
  CHECK(data.validation.dataset->labels[0] == 1);

  CHECK(contains(message_of([&] { load_config(config_with("{format: image_folder, path: img}"), {}); }),
                 "size: is required"));
  CHECK(contains(message_of([&] {
                   load_config(config_with("{format: image_folder, path: img, size: [4, 4], channels: 2}"),
                               {});
                 }),
                 "must be 1 (grey) or 3 (RGB)"));
  const Config regression =
      load_config(config_with("{format: image_folder, path: img, size: [4, 4]}", "mse"), {});
  CHECK(contains(message_of([&] { load_data(regression.data, false, 1); }), "use a classification loss"));
}
