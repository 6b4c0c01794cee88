#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "core/blas.hpp"
#include "core/random.hpp"
#include "core/small_k_gemm.hpp"
#include "support/gradient_check.hpp"

using namespace dlrun;

namespace {

// B (k, n) stored with row stride ldb >= n, as a block of a convolution's column matrix.
Tensor strided(const Tensor& dense, Index rows, Index cols, Index stride) {
  Tensor out({rows, stride}, -7.0f);  // padding values that must never be read into results
  for (Index r = 0; r < rows; ++r) {
    for (Index c = 0; c < cols; ++c) out[r * stride + c] = dense[r * cols + c];
  }
  return out;
}

}  // namespace

TEST_CASE("gemm_small_k: bias, relu and strided rows match the reference, tails included") {
  Rng rng(11);
  // Sizes around the register tiles: rows by 4, columns by 24 and 8, and the single leftovers.
  for (const Index m : {1, 3, 4, 7, 32}) {
    for (const Index n : {1, 5, 8, 23, 24, 33, 676}) {
      for (const Index k : {1, 9, 16, 25}) {
        for (const bool with_bias : {false, true}) {
          for (const bool relu : {false, true}) {
            CAPTURE(m);
            CAPTURE(n);
            CAPTURE(k);
            CAPTURE(with_bias);
            CAPTURE(relu);
            const Tensor a = testing::random_normal({m, k}, rng);
            const Tensor b = testing::random_normal({k, n}, rng);
            const Tensor bias = testing::random_normal({m}, rng);
            Tensor expected({m, n});
            for (Index i = 0; i < m; ++i) {
              for (Index j = 0; j < n; ++j) expected[i * n + j] = with_bias ? bias[i] : 0.0f;
            }
            gemm_reference(Transpose::no, Transpose::no, m, n, k, 1.0f, a.values(), b.values(), 1.0f,
                           expected.values());
            if (relu) {
              for (float& value : expected.values()) value = std::max(value, 0.0f);
            }
            const Index ld = n + 3;
            const Tensor b_strided = strided(b, k, n, ld);
            Tensor c({m, ld}, 5.0f);
            gemm_small_k(m, n, k, a.data(), b_strided.data(), ld, with_bias ? bias.data() : nullptr, relu,
                         c.data(), ld);
            double worst = 0.0;
            for (Index i = 0; i < m; ++i) {
              for (Index j = 0; j < n; ++j) {
                worst = std::max(worst, static_cast<double>(std::fabs(c[i * ld + j] - expected[i * n + j])));
              }
              for (Index j = n; j < ld; ++j) CHECK(c[i * ld + j] == 5.0f);  // nothing written past n
            }
            CHECK(worst < 1e-5);
          }
        }
      }
    }
  }
}

TEST_CASE("gemm_small_k: relu keeps a NaN, as std::max(x, 0) does") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> a{1.0f, -1.0f};  // (2, 1)
  std::vector<float> b(9, 1.0f);            // (1, 9): one full vector and one tail column
  b[3] = nan;
  b[8] = nan;
  std::vector<float> c(18);
  gemm_small_k(2, 9, 1, a.data(), b.data(), 9, nullptr, true, c.data(), 9);
  CHECK(std::isnan(c[3]));
  CHECK(std::isnan(c[8]));
  CHECK(std::isnan(c[9 + 3]));
  CHECK(c[0] == 1.0f);
  CHECK(c[9] == 0.0f);
}

TEST_CASE("gemm_small_k_weight_grad adds G B^T to C, tails and strides included") {
  Rng rng(12);
  for (const Index m : {1, 2, 3, 7, 32}) {
    for (const Index k : {1, 2, 3, 9, 16}) {
      for (const Index n : {1, 7, 8, 9, 676}) {
        CAPTURE(m);
        CAPTURE(k);
        CAPTURE(n);
        const Tensor g = testing::random_normal({m, n}, rng);
        const Tensor b = testing::random_normal({k, n}, rng);
        Tensor c = testing::random_normal({m, k}, rng);
        Tensor expected = c;
        gemm_reference(Transpose::no, Transpose::yes, m, k, n, 1.0f, g.values(), b.values(), 1.0f,
                       expected.values());
        const Index ld = n + 5;
        const Tensor g_strided = strided(g, m, n, ld);
        const Tensor b_strided = strided(b, k, n, ld);
        gemm_small_k_weight_grad(m, k, n, g_strided.data(), ld, b_strided.data(), ld, c.data());
        CHECK(testing::max_abs_difference(c, expected) < 1e-4);
      }
    }
  }
}
