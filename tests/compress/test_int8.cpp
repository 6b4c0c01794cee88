// Int8 quantization: round-trip error bounds, and the integer GEMM (AVX2 and portable paths)
// against a direct loop and against the float product of the dequantized operands.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "compress/int8_gemm.hpp"
#include "compress/quantize.hpp"
#include "compress/quantized_model.hpp"
#include "compress/requantize.hpp"
#include "core/random.hpp"

using namespace dlrun;

namespace {

// Uniform uint8 activations and int8 weights, drawn in order from `rng`.
std::vector<std::uint8_t> int8_test_activations(std::size_t count, Rng& rng) {
  std::vector<std::uint8_t> values(count);
  for (auto& v : values) v = static_cast<std::uint8_t>(rng.below(256));
  return values;
}

std::vector<std::int8_t> int8_test_weights(std::size_t count, Rng& rng) {
  std::vector<std::int8_t> values(count);
  for (auto& v : values) v = static_cast<std::int8_t>(rng.below(256) - 128);
  return values;
}

}  // namespace

TEST_CASE("int8: weights round-trip within half a step per channel; activations within half a step") {
  Rng rng(5);
  Tensor weight(Shape{6, 3, 2, 2});
  for (float& w : weight.values()) w = rng.uniform(-2.0f, 2.0f);
  for (Index i = 0; i < 12; ++i) weight.data()[12 + i] *= 0.01f;  // a channel 100x smaller
  for (Index i = 0; i < 12; ++i) weight.data()[24 + i] = 0.0f;    // an all-zero channel
  const QuantizedWeights q = quantize_weights_per_channel(weight);
  REQUIRE(q.rows == 6);
  REQUIRE(q.cols == 12);
  CHECK(q.scales[2] == 1.0f);
  for (Index r = 0; r < q.rows; ++r) {
    const float scale = q.scales[static_cast<std::size_t>(r)];
    for (Index c = 0; c < q.cols; ++c) {
      const std::int8_t level = q.values[static_cast<std::size_t>(r * q.cols + c)];
      CHECK(level >= -127);
      CHECK(std::fabs(weight.data()[r * q.cols + c] - scale * level) <= scale / 2 * (1 + 1e-6f));
    }
  }
  for (const auto& [low, high] : {std::pair{-1.5f, 3.0f}, std::pair{0.0f, 6.0f}, std::pair{0.2f, 0.9f}}) {
    const ActivationQuantization a = activation_quantization(low, high);
    CHECK(dequantize_activation(quantize_activation(0.0f, a), a) == 0.0f);  // zero is exact
    for (int i = 0; i <= 1000; ++i) {
      const float x =
          std::min(low, 0.0f) + (std::max(high, 0.0f) - std::min(low, 0.0f)) * static_cast<float>(i) / 1000;
      CHECK(std::fabs(x - dequantize_activation(quantize_activation(x, a), a)) <= a.scale / 2 * (1 + 1e-4f));
    }
    // Outside the calibrated range values clamp to its ends.
    CHECK(quantize_activation(1e6f, a) == 255);
  }
}

TEST_CASE("int8 gemm: exact against a direct loop, and the float product within rounding, on random shapes") {
  Rng rng(17);
  const std::vector<std::array<Index, 3>> shapes{{1, 1, 1},   {3, 5, 9},     {4, 8, 16},   {7, 13, 33},
                                                 {64, 32, 9}, {5, 128, 541}, {9, 10, 128}, {2, 17, 3}};
  for (const auto& [m, n, k] : shapes) {
    CAPTURE(m);
    CAPTURE(n);
    CAPTURE(k);
    std::vector<std::int8_t> b(static_cast<std::size_t>(n * k));
    for (auto& v : b) v = static_cast<std::int8_t>(rng.below(255) - 127);
    const PackedInt8Weights packed = pack_int8_weights(b.data(), n, k);
    const Index stride = 2 * packed.k_pairs;
    std::vector<std::int16_t> a(static_cast<std::size_t>(m * stride), 0);
    for (Index r = 0; r < m; ++r) {
      for (Index i = 0; i < k; ++i)
        a[static_cast<std::size_t>(r * stride + i)] = static_cast<std::int16_t>(rng.below(511) - 255);
    }
    std::vector<std::int32_t> expected(static_cast<std::size_t>(m * n)), fast(expected.size()),
        scalar(expected.size());
    gemm_s16_s8_reference(m, n, k, a.data(), stride, b.data(), expected.data());
    gemm_s16_s8(m, a.data(), packed, fast.data());
    gemm_s16_s8_scalar(m, a.data(), packed, scalar.data());
    CHECK(fast == expected);
    CHECK(scalar == expected);
  }

  // The quantized product of float operands stays within the error that rounding both allows.
  const Index m = 6, n = 10, k = 50;
  Tensor w(Shape{n, k});
  for (float& v : w.values()) v = rng.uniform(-1.0f, 1.0f);
  std::vector<float> x(static_cast<std::size_t>(m * k));
  for (float& v : x) v = rng.uniform(0.0f, 4.0f);
  const QuantizedWeights qw = quantize_weights_per_channel(w);
  const ActivationQuantization qa = activation_quantization(0.0f, 4.0f);
  const PackedInt8Weights packed = pack_int8_weights(qw.values.data(), n, k);
  const Index stride = 2 * packed.k_pairs;
  std::vector<std::int16_t> a(static_cast<std::size_t>(m * stride), 0);
  for (Index i = 0; i < m; ++i) {
    for (Index j = 0; j < k; ++j) {
      a[static_cast<std::size_t>(i * stride + j)] = static_cast<std::int16_t>(
          quantize_activation(x[static_cast<std::size_t>(i * k + j)], qa) - qa.zero_point);
    }
  }
  std::vector<std::int32_t> c(static_cast<std::size_t>(m * n));
  gemm_s16_s8(m, a.data(), packed, c.data());
  for (Index i = 0; i < m; ++i) {
    for (Index j = 0; j < n; ++j) {
      double exact = 0.0, bound = 0.0;
      const float sw = qw.scales[static_cast<std::size_t>(j)];
      for (Index t = 0; t < k; ++t) {
        const double xv = x[static_cast<std::size_t>(i * k + t)], wv = w.data()[j * k + t];
        exact += xv * wv;
        bound += std::fabs(xv) * sw / 2 + std::fabs(wv) * qa.scale / 2 + sw * qa.scale / 4;
      }
      const double approx = static_cast<double>(qa.scale) * sw * c[static_cast<std::size_t>(i * n + j)];
      CHECK(std::fabs(approx - exact) <= bound);
    }
  }
}

TEST_CASE("int8 gemm_u8s8: uint8 activations with a zero point, every kernel exact on random shapes") {
  Rng rng(19);
  const std::vector<std::array<Index, 3>> shapes{{1, 1, 1},    {3, 5, 9},       {8, 16, 12},   {9, 17, 13},
                                                 {676, 32, 9}, {64, 128, 5408}, {13, 10, 130}, {2, 33, 3}};
  std::vector<Int8Kernel> kernels{Int8Kernel::pairs};
  if (cpu_has_vnni()) kernels.push_back(Int8Kernel::vnni);
  for (const auto& [m, n, k] : shapes) {
    CAPTURE(m);
    CAPTURE(n);
    CAPTURE(k);
    const Index lda = k + 3;  // rows apart by more than k
    const auto a = int8_test_activations(static_cast<std::size_t>(m * lda), rng);
    const auto b = int8_test_weights(static_cast<std::size_t>(n * k), rng);
    const auto zero_point = static_cast<std::int32_t>(rng.below(256));
    std::vector<std::int32_t> expected(static_cast<std::size_t>(m * n));
    for (Index r = 0; r < m; ++r) {
      for (Index c = 0; c < n; ++c) {
        std::int64_t sum = 0;
        for (Index i = 0; i < k; ++i)
          sum += (a[static_cast<std::size_t>(r * lda + i)] - zero_point) *
                 b[static_cast<std::size_t>(c * k + i)];
        expected[static_cast<std::size_t>(r * n + c)] = static_cast<std::int32_t>(sum);
      }
    }
    for (const Int8Kernel kernel : kernels) {
      CAPTURE(static_cast<int>(kernel));
      const Int8Weights packed = pack_u8s8_weights(b.data(), n, k, kernel);
      std::vector<std::int32_t> c(expected.size(), -1);
      std::vector<std::int16_t> scratch;
      gemm_u8s8(m, a.data(), lda, zero_point, packed, c.data(), scratch);
      CHECK(c == expected);
    }
  }
}

TEST_CASE("int8 gemm_u8s8_max: the rows' maximum in groups, every kernel exact, rows padded or not") {
  Rng rng(29);
  // {groups, group, n, k}; k = 9 and 5408 are seed_cnn's conv1 and fc1.
  const std::vector<std::array<Index, 4>> shapes{{1, 1, 1, 1},    {3, 4, 32, 9}, {169, 4, 32, 9},
                                                 {5, 3, 17, 13},  {2, 9, 5, 30}, {4, 1, 40, 12},
                                                 {3, 2, 16, 5408}};
  std::vector<Int8Kernel> kernels{Int8Kernel::pairs};
  if (cpu_has_vnni()) kernels.push_back(Int8Kernel::vnni);
  for (const auto& [groups, group, n, k] : shapes) {
    for (const Index lda : {k, (k + 3) / 4 * 4, k + 5}) {  // the last quad whole or read byte by byte
      CAPTURE(groups);
      CAPTURE(group);
      CAPTURE(n);
      CAPTURE(k);
      CAPTURE(lda);
      const Index m = groups * group;
      const auto a = int8_test_activations(static_cast<std::size_t>(m * lda), rng);
      const auto b = int8_test_weights(static_cast<std::size_t>(n * k), rng);
      const auto zero_point = static_cast<std::int32_t>(rng.below(256));
      std::vector<std::int32_t> expected(static_cast<std::size_t>(groups * n));
      for (Index g = 0; g < groups; ++g) {
        for (Index c = 0; c < n; ++c) {
          std::int64_t best = INT64_MIN;
          for (Index r = g * group; r < (g + 1) * group; ++r) {
            std::int64_t sum = 0;
            for (Index i = 0; i < k; ++i)
              sum += (a[static_cast<std::size_t>(r * lda + i)] - zero_point) *
                     b[static_cast<std::size_t>(c * k + i)];
            best = std::max(best, sum);
          }
          expected[static_cast<std::size_t>(g * n + c)] = static_cast<std::int32_t>(best);
        }
      }
      for (const Int8Kernel kernel : kernels) {
        CAPTURE(static_cast<int>(kernel));
        const Int8Weights packed = pack_u8s8_weights(b.data(), n, k, kernel);
        std::vector<std::int32_t> c(expected.size(), -1);
        Int8Scratch scratch;
        gemm_u8s8_max(m, group, a.data(), lda, zero_point, packed, c.data(), scratch);
        CHECK(c == expected);
      }
    }
  }
}

TEST_CASE("int8 gemm_u8s8_max on rows read in place (QuadRows): the same as on the rows gathered first") {
  Rng rng(37);
  // {groups, group, n, quads}: 3 quads are a 3x3 kernel's rows on one channel (seed_cnn's conv1).
  const std::vector<std::array<Index, 4>> shapes{{169, 4, 32, 3}, {5, 1, 17, 1}, {7, 2, 16, 2},
                                                 {4, 3, 40, 6},   {9, 4, 5, 3},  {3, 9, 33, 4}};
  std::vector<Int8Kernel> kernels{Int8Kernel::pairs};
  if (cpu_has_vnni()) kernels.push_back(Int8Kernel::vnni);
  for (const auto& [groups, group, n, quads] : shapes) {
    CAPTURE(groups);
    CAPTURE(group);
    CAPTURE(n);
    CAPTURE(quads);
    const Index m = groups * group, k = 4 * quads;
    const auto image = int8_test_activations(500, rng);
    std::vector<Index> corners(static_cast<std::size_t>(m)), offsets(static_cast<std::size_t>(quads));
    for (auto& v : offsets) v = static_cast<Index>(rng.below(100));
    for (auto& v : corners) v = static_cast<Index>(rng.below(396));  // the last quad ends inside
    std::vector<std::uint8_t> rows(static_cast<std::size_t>(m * k));
    for (Index r = 0; r < m; ++r) {
      for (Index q = 0; q < quads; ++q) {
        for (Index i = 0; i < 4; ++i) {
          rows[static_cast<std::size_t>(r * k + 4 * q + i)] = image[static_cast<std::size_t>(
              corners[static_cast<std::size_t>(r)] + offsets[static_cast<std::size_t>(q)] + i)];
        }
      }
    }
    const auto b = int8_test_weights(static_cast<std::size_t>(n * k), rng);
    const auto zero_point = static_cast<std::int32_t>(rng.below(256));
    for (const Int8Kernel kernel : kernels) {
      CAPTURE(static_cast<int>(kernel));
      const Int8Weights packed = pack_u8s8_weights(b.data(), n, k, kernel);
      std::vector<std::int32_t> expected(static_cast<std::size_t>(groups * n), -1), c(expected.size(), -2);
      Int8Scratch scratch;
      gemm_u8s8_max(m, group, rows.data(), k, zero_point, packed, expected.data(), scratch);
      gemm_u8s8_max(m, group, QuadRows{image.data(), corners.data(), offsets.data()}, zero_point, packed,
                    c.data(), scratch);
      CHECK(c == expected);
    }
  }
}

TEST_CASE("int8 requantize_rows and dequantize_rows: the same bytes and floats as the portable loops") {
  Rng rng(31);
  for (const auto& [rows, n] : {std::pair<Index, Index>{1, 1}, {7, 16}, {5, 37}, {169, 32}}) {
    CAPTURE(rows);
    CAPTURE(n);
    std::vector<std::int32_t> sums(static_cast<std::size_t>(rows * n));
    for (auto& v : sums) v = static_cast<std::int32_t>(rng.below(400001)) - 200000;
    sums[0] = 0;
    std::vector<float> multiplier(static_cast<std::size_t>(n)), offset(multiplier.size());
    for (auto& v : multiplier) v = rng.uniform(1e-5f, 2e-3f);
    for (auto& v : offset) v = rng.uniform(-40.0f, 300.0f);
    offset[0] = 0.5f;  // sum 0: a tie, rounded to even
    for (const float low : {0.0f, 37.0f}) {
      std::vector<std::uint8_t> fast(sums.size()), portable(sums.size());
      requantize_rows(sums.data(), rows, n, multiplier.data(), offset.data(), low, fast.data());
      requantize_rows_portable(sums.data(), rows, n, multiplier.data(), offset.data(), low, portable.data());
      CHECK(fast == portable);
      if (low == 0.0f) CHECK(fast[0] == 0);
    }
    for (const bool relu : {false, true}) {
      std::vector<float> fast(sums.size()), portable(sums.size());
      dequantize_rows(sums.data(), rows, n, multiplier.data(), offset.data(), relu, fast.data());
      dequantize_rows_portable(sums.data(), rows, n, multiplier.data(), offset.data(), relu, portable.data());
      CHECK(fast == portable);
    }
  }
}

TEST_CASE("int8: quantize_values and dequantize_values round-trip within half a step, clamping outside") {
  Rng rng(23);
  for (const auto& [low, high] : {std::pair{-2.0f, 5.0f}, std::pair{0.0f, 1.0f}, std::pair{-0.3f, -0.1f}}) {
    const ActivationQuantization q = activation_quantization(low, high);
    std::vector<float> x(1000);
    for (float& v : x) v = rng.uniform(std::min(low, 0.0f), std::max(high, 0.0f));
    x[0] = 0.0f;
    std::vector<std::uint8_t> levels(x.size());
    std::vector<float> back(x.size());
    quantize_values(x, q, levels.data());
    dequantize_values(levels, q, back.data());
    CHECK(back[0] == 0.0f);
    for (std::size_t i = 0; i < x.size(); ++i) {
      CHECK(std::fabs(back[i] - x[i]) <= q.scale / 2 * (1 + 1e-4f));
      CHECK(levels[i] == quantize_activation(x[i], q));  // the same rounding as the scalar one
    }
    std::vector<std::uint8_t> portable(x.size());
    quantize_values_portable(x, q, portable.data());
    CHECK(levels == portable);
    const std::vector<float> outside{-1e9f, 1e9f, NAN};
    std::vector<std::uint8_t> clamped(3);
    quantize_values(outside, q, clamped.data());
    CHECK(clamped[0] == 0);
    CHECK(clamped[1] == 255);
    CHECK(clamped[2] == 0);
  }
}
