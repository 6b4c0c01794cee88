#include <doctest/doctest.h>

#include <vector>

#include "core/blas.hpp"
#include "core/random.hpp"
#include "core/threads.hpp"
#include "core/tile_gemm.hpp"
#include "support/random_values.hpp"

using namespace dlrun;
using dlrun::testing::uniform_values;

namespace {

// C (m, n) inside a wider (m, n + 3) buffer: leading dimensions larger than the width.
struct Case {
  Index m, n, k;
};

}  // namespace

TEST_CASE("tile_gemm: nn and tn against the reference, every tile and tail shape, = and +=") {
  Rng rng(1);
  for (const Case c : {Case{1, 1, 1}, Case{3, 5, 2}, Case{4, 16, 7}, Case{7, 24, 9}, Case{13, 37, 300},
                       Case{32, 256, 64}, Case{6, 8, 0}}) {
    for (const bool transposed : {false, true}) {
      for (const bool accumulate : {false, true}) {
        CAPTURE(c.m);
        CAPTURE(c.n);
        CAPTURE(c.k);
        CAPTURE(transposed);
        CAPTURE(accumulate);
        const Index lda = (transposed ? c.m : c.k) + 2, ldb = c.n + 1, ldc = c.n + 3;
        const std::vector<float> a = uniform_values((transposed ? c.k : c.m) * lda, rng);
        const std::vector<float> b = uniform_values(c.k * ldb, rng);
        const std::vector<float> c0 = uniform_values(c.m * ldc, rng);
        // The reference on packed copies.
        std::vector<float> a_packed, b_packed, expected;
        for (Index r = 0; r < (transposed ? c.k : c.m); ++r)
          for (Index j = 0; j < (transposed ? c.m : c.k); ++j)
            a_packed.push_back(a[static_cast<std::size_t>(r * lda + j)]);
        for (Index r = 0; r < c.k; ++r)
          for (Index j = 0; j < c.n; ++j) b_packed.push_back(b[static_cast<std::size_t>(r * ldb + j)]);
        for (Index r = 0; r < c.m; ++r)
          for (Index j = 0; j < c.n; ++j) expected.push_back(c0[static_cast<std::size_t>(r * ldc + j)]);
        gemm_reference(transposed ? Transpose::yes : Transpose::no, Transpose::no, c.m, c.n, c.k, 1.0f,
                       a_packed, b_packed, accumulate ? 1.0f : 0.0f, expected);

        std::vector<float> fast = c0, plain = c0, split = c0;
        if (transposed) {
          tile_gemm_tn(c.m, c.n, c.k, a.data(), lda, b.data(), ldb, accumulate, fast.data(), ldc);
          tile_gemm_tn_plain(c.m, c.n, c.k, a.data(), lda, b.data(), ldb, accumulate, plain.data(), ldc);
          tile_gemm_tn_parallel(c.m, c.n, c.k, a.data(), lda, b.data(), ldb, accumulate, split.data(), ldc);
        } else {
          tile_gemm_nn(c.m, c.n, c.k, a.data(), lda, b.data(), ldb, accumulate, fast.data(), ldc);
          tile_gemm_nn_plain(c.m, c.n, c.k, a.data(), lda, b.data(), ldb, accumulate, plain.data(), ldc);
          tile_gemm_nn_parallel(c.m, c.n, c.k, a.data(), lda, b.data(), ldb, accumulate, split.data(), ldc);
        }
        double worst = 0.0;
        bool same_bits = true;
        for (Index r = 0; r < c.m; ++r) {
          for (Index j = 0; j < ldc; ++j) {
            const auto at = static_cast<std::size_t>(r * ldc + j);
            same_bits &= fast[at] == plain[at] && fast[at] == split[at];
            if (j >= c.n) {
              CHECK(fast[at] == c0[at]);  // padding untouched
              continue;
            }
            worst = std::max(
                worst,
                static_cast<double>(std::abs(fast[at] - expected[static_cast<std::size_t>(r * c.n + j)])));
          }
        }
        CHECK(worst < 1e-4);
        CHECK(same_bits);
      }
    }
  }
}

TEST_CASE("tile_gemm: split over threads gives the same bits, by rows and by columns") {
  set_thread_count(2);
  Rng rng(2);
  for (const Case c : {Case{1792, 256, 28}, Case{28, 256, 1792}}) {
    const std::vector<float> a = uniform_values(c.m * c.k, rng), b = uniform_values(c.k * c.n, rng);
    std::vector<float> one(static_cast<std::size_t>(c.m * c.n)), split(one.size());
    const bool transposed = c.m < c.n;  // the weight-gradient shape
    const Index lda = transposed ? c.m : c.k;
    if (transposed) {
      tile_gemm_tn(c.m, c.n, c.k, a.data(), lda, b.data(), c.n, false, one.data(), c.n);
      tile_gemm_tn_parallel(c.m, c.n, c.k, a.data(), lda, b.data(), c.n, false, split.data(), c.n);
    } else {
      tile_gemm_nn(c.m, c.n, c.k, a.data(), lda, b.data(), c.n, false, one.data(), c.n);
      tile_gemm_nn_parallel(c.m, c.n, c.k, a.data(), lda, b.data(), c.n, false, split.data(), c.n);
    }
    CHECK(one == split);
  }
  set_thread_count(0);
}
