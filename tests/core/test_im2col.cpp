#include <doctest/doctest.h>

#include <vector>

#include "core/im2col.hpp"
#include "core/random.hpp"
#include "support/gradient_check.hpp"

using namespace dlrun;

namespace {

// A spread of geometries: strides, padding (also wider than the kernel reach), dilation, the
// asymmetric 'same' padding, non-square everything.
std::vector<ConvGeometry> geometries() {
  std::vector<ConvGeometry> result;
  auto add = [&](Index c, Index h, Index w, Index kh, Index kw, Index sh, Index sw, Index ph, Index pw,
                 Index dh, Index dw, Index eh = 0, Index ew = 0) {
    result.push_back(ConvGeometry{c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, eh, ew});
  };
  add(1, 5, 6, 3, 3, 1, 1, 0, 0, 1, 1);  // the stride-1, no-padding copy path
  add(2, 7, 6, 3, 3, 2, 2, 1, 1, 1, 1);
  add(3, 6, 7, 2, 3, 1, 2, 1, 0, 1, 1);
  add(2, 8, 9, 3, 3, 1, 1, 2, 2, 2, 2);        // dilation
  add(1, 4, 5, 3, 2, 3, 2, 2, 3, 1, 1);        // padding wider than the kernel reach: all-zero rows
  add(2, 5, 6, 2, 4, 1, 1, 0, 1, 1, 1, 1, 1);  // 'same' with an even kernel: one more after
  add(1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1);
  add(2, 9, 4, 4, 1, 2, 1, 1, 0, 2, 1);
  add(2, 6, 14, 3, 3, 1, 1, 1, 1, 1, 1);  // copied runs of 13 and 14 floats: vectors, the last overlapping
  add(1, 28, 28, 5, 5, 1, 1, 2, 2, 1, 1);  // LeNet-5's c1: runs of 26 to 28
  add(1, 3, 70, 1, 1, 1, 1, 0, 0, 1, 1);   // runs of 70: memcpy
  return result;
}

std::vector<float> normal_values(Index count, Rng& rng) {
  std::vector<float> values(static_cast<std::size_t>(count));
  rng.fill_normal(values, 0.0f, 1.0f);
  return values;
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

}  // namespace

TEST_CASE("im2col: conv_output_size follows PyTorch's floor rule") {
  CHECK(conv_output_size(28, 3, 1, 0, 0) == 26);
  CHECK(conv_output_size(28, 5, 1, 2, 2) == 28);
  CHECK(conv_output_size(7, 3, 2, 1, 1) == 4);
  CHECK(conv_output_size(6, 3, 2, 1, 1) == 3);     // floor((6 + 2 - 3) / 2) + 1
  CHECK(conv_output_size(9, 3, 1, 0, 0, 2) == 5);  // dilated kernel reaches 5
  CHECK(conv_output_size(6, 4, 1, 1, 2) == 6);     // asymmetric padding ('same', kernel 4)
  CHECK(conv_output_size(2, 3, 1, 0, 0) == 0);     // does not fit: callers report it
  CHECK(conv_output_size(4, 3, 1, 0, 0, 3) == 0);
}

TEST_CASE("im2col: on a hand-computed 2x3 image with a 2x2 kernel") {
  const ConvGeometry g{.channels = 1, .height = 2, .width = 3, .kernel_h = 2, .kernel_w = 2};
  const std::vector<float> image{1, 2, 3, 4, 5, 6};
  std::vector<float> columns(8, -1.0f);
  im2col(g, image, columns);
  // rows (i, j) = (0,0) (0,1) (1,0) (1,1); columns ow = 0, 1
  CHECK(columns == std::vector<float>{1, 2, 2, 3, 4, 5, 5, 6});

  std::vector<float> back(6, 0.0f);
  col2im_add(g, columns, back);
  // each pixel summed as many times as a window covers it
  CHECK(back == std::vector<float>{1, 4, 3, 4, 10, 6});
}

TEST_CASE("im2col: with padding and stride on a hand-computed case") {
  // 1x3x3 image, 3x3 kernel, padding 1, stride 2 -> 2x2 outputs; row (1,1) is the centre taps.
  const ConvGeometry g{.channels = 1,
                       .height = 3,
                       .width = 3,
                       .kernel_h = 3,
                       .kernel_w = 3,
                       .stride_h = 2,
                       .stride_w = 2,
                       .pad_h = 1,
                       .pad_w = 1};
  const std::vector<float> image{1, 2, 3, 4, 5, 6, 7, 8, 9};
  std::vector<float> columns(9 * 4, -1.0f);
  im2col(g, image, columns);
  const auto row = [&](Index r) {
    return std::vector<float>(columns.begin() + r * 4, columns.begin() + r * 4 + 4);
  };
  CHECK(row(0) == std::vector<float>{0, 0, 0, 5});  // top-left tap: only (1,1) -> pixel 5
  CHECK(row(4) == std::vector<float>{1, 3, 7, 9});  // centre tap
  CHECK(row(8) == std::vector<float>{5, 0, 0, 0});  // bottom-right tap
}

TEST_CASE("im2col: im2col and col2im_add match the naive references") {
  Rng rng(3);
  for (const ConvGeometry& g : geometries()) {
    CAPTURE(g.height);
    CAPTURE(g.width);
    CAPTURE(g.kernel_h);
    CAPTURE(g.stride_h);
    const std::vector<float> image = normal_values(g.image_size(), rng);
    std::vector<float> fast(static_cast<std::size_t>(g.column_rows() * g.column_cols()), 7.0f);  // dirty
    std::vector<float> naive(fast.size(), 0.0f);
    im2col(g, image, fast);
    im2col_reference(g, image, naive);
    CHECK(fast == naive);

    const std::vector<float> columns = normal_values(g.column_rows() * g.column_cols(), rng);
    std::vector<float> fast_image = normal_values(g.image_size(), rng);  // col2im accumulates
    std::vector<float> naive_image = fast_image;
    col2im_add(g, columns, fast_image);
    col2im_add_reference(g, columns, naive_image);
    CHECK(testing::max_relative_difference(fast_image, naive_image) < 1e-6);
  }
}

TEST_CASE("im2col: col2im_add is the adjoint of im2col: <im2col(x), y> == <x, col2im_add(y)>") {
  Rng rng(4);
  for (const ConvGeometry& g : geometries()) {
    const std::vector<float> x = normal_values(g.image_size(), rng);
    const std::vector<float> y = normal_values(g.column_rows() * g.column_cols(), rng);
    std::vector<float> columns(y.size());
    im2col(g, x, columns);
    std::vector<float> image(x.size(), 0.0f);
    col2im_add(g, y, image);
    CHECK(dot(columns, y) == doctest::Approx(dot(x, image)).epsilon(1e-5));
  }
}

TEST_CASE("im2col: a row stride lays several samples side by side in one column matrix") {
  Rng rng(5);
  for (const ConvGeometry& g : geometries()) {
    const Index samples = 3;
    const Index positions = g.column_cols();
    const Index width = samples * positions;
    const std::vector<float> images = normal_values(samples * g.image_size(), rng);
    std::vector<float> batch(static_cast<std::size_t>(g.column_rows() * width));
    for (Index s = 0; s < samples; ++s) {
      im2col(g, std::span(images).subspan(static_cast<std::size_t>(s * g.image_size())),
             std::span(batch).subspan(static_cast<std::size_t>(s * positions)), width);
    }
    std::vector<float> single(static_cast<std::size_t>(g.column_rows() * positions));
    Index mismatches = 0;
    for (Index s = 0; s < samples; ++s) {
      im2col(g, std::span(images).subspan(static_cast<std::size_t>(s * g.image_size())), single);
      for (Index r = 0; r < g.column_rows(); ++r) {
        for (Index p = 0; p < positions; ++p) {
          mismatches += batch[static_cast<std::size_t>(r * width + s * positions + p)] !=
                        single[static_cast<std::size_t>(r * positions + p)];
        }
      }
    }
    CHECK(mismatches == 0);
    // and col2im_add reads the same layout back
    std::vector<float> from_batch(images.size(), 0.0f);
    for (Index s = 0; s < samples; ++s) {
      col2im_add(g, std::span(batch).subspan(static_cast<std::size_t>(s * positions)),
                 std::span(from_batch).subspan(static_cast<std::size_t>(s * g.image_size())), width);
    }
    std::vector<float> expected(images.size(), 0.0f);
    for (Index s = 0; s < samples; ++s) {
      im2col(g, std::span(images).subspan(static_cast<std::size_t>(s * g.image_size())), single);
      col2im_add_reference(g, single,
                           std::span(expected).subspan(static_cast<std::size_t>(s * g.image_size())));
    }
    CHECK(testing::max_relative_difference(from_batch, expected) < 1e-6);
  }
}
