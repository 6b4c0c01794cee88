#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "core/blas.hpp"
#include "core/packed_gemm.hpp"
#include "core/random.hpp"
#include "core/threads.hpp"
#include "support/random_values.hpp"

using namespace dlrun;
using dlrun::testing::uniform_values;

namespace {

struct PackedCase {
  Index m, n, k;
};

}  // namespace

TEST_CASE("packed_gemm: every transpose, edge and depth block against the reference, alpha and beta") {
  if (!packed_gemm_available()) {
    MESSAGE("packed_gemm: this CPU has no AVX-512F; gemm() uses OpenBLAS and the kernel is not run");
    return;
  }
  Rng rng(11);
  // Edges of the 8 x 48 tile and of the 16 x 16 packing blocks, depth beyond one block of 256, rows
  // beyond one block of 192, columns beyond one block of 1008; B read in place (up to 64 rows) and
  // packed (65).
  for (const PackedCase s :
       {PackedCase{1, 1, 1}, PackedCase{7, 17, 33}, PackedCase{17, 100, 7}, PackedCase{33, 7, 300},
        PackedCase{100, 33, 17}, PackedCase{300, 1, 100}, PackedCase{1, 300, 1}, PackedCase{200, 49, 513},
        PackedCase{64, 1100, 260}, PackedCase{65, 50, 20}}) {
    for (const bool ta : {false, true}) {
      for (const bool tb : {false, true}) {
        for (const float beta : {0.0f, 1.0f, -0.5f}) {
          CAPTURE(s.m);
          CAPTURE(s.n);
          CAPTURE(s.k);
          CAPTURE(ta);
          CAPTURE(tb);
          CAPTURE(beta);
          const float alpha = beta == 0.0f ? 1.0f : 0.75f;
          // Leading dimensions wider than the matrices, and a C padding column that must stay as is.
          const Index lda = (ta ? s.m : s.k) + 3, ldb = (tb ? s.k : s.n) + 1, ldc = s.n + 2;
          const std::vector<float> a = uniform_values((ta ? s.k : s.m) * lda, rng);
          const std::vector<float> b = uniform_values((tb ? s.n : s.k) * ldb, rng);
          std::vector<float> c = uniform_values(s.m * ldc, rng);
          if (beta == 0.0f) c[0] = std::nanf("");  // beta 0 never reads C
          // The reference on tight copies.
          std::vector<float> a_tight, b_tight, expected;
          for (Index r = 0; r < (ta ? s.k : s.m); ++r)
            for (Index j = 0; j < (ta ? s.m : s.k); ++j)
              a_tight.push_back(a[static_cast<std::size_t>(r * lda + j)]);
          for (Index r = 0; r < (tb ? s.n : s.k); ++r)
            for (Index j = 0; j < (tb ? s.k : s.n); ++j)
              b_tight.push_back(b[static_cast<std::size_t>(r * ldb + j)]);
          for (Index r = 0; r < s.m; ++r)
            for (Index j = 0; j < s.n; ++j) expected.push_back(c[static_cast<std::size_t>(r * ldc + j)]);
          gemm_reference(ta ? Transpose::yes : Transpose::no, tb ? Transpose::yes : Transpose::no, s.m, s.n,
                         s.k, alpha, a_tight, b_tight, beta, expected);
          const std::vector<float> before = c;
          packed_gemm(ta, tb, s.m, s.n, s.k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
          double worst = 0.0;
          bool padding_kept = true;
          for (Index r = 0; r < s.m; ++r) {
            for (Index j = 0; j < ldc; ++j) {
              const auto at = static_cast<std::size_t>(r * ldc + j);
              if (j >= s.n) {
                padding_kept &= c[at] == before[at];
                continue;
              }
              worst = std::max(worst, std::abs(static_cast<double>(c[at]) -
                                               expected[static_cast<std::size_t>(r * s.n + j)]));
            }
          }
          CHECK(padding_kept);
          CHECK(worst < 2e-5 * std::sqrt(static_cast<double>(s.k)) + 1e-6);
        }
      }
    }
  }
}

TEST_CASE("packed_gemm: k = 0 or alpha = 0 leaves beta * C; repeated calls give the same bits") {
  if (!packed_gemm_available()) return;
  std::vector<float> c{1.0f, 2.0f, 3.0f, 4.0f};
  const std::vector<float> none(4, 7.0f);
  packed_gemm(false, false, 2, 2, 0, 1.0f, none.data(), 1, none.data(), 2, 0.5f, c.data(), 2);
  CHECK(c == std::vector<float>{0.5f, 1.0f, 1.5f, 2.0f});
  packed_gemm(false, false, 2, 2, 2, 0.0f, none.data(), 2, none.data(), 2, 0.0f, c.data(), 2);
  CHECK(c == std::vector<float>(4, 0.0f));

  Rng rng(12);
  const Index m = 70, n = 130, k = 600;
  const std::vector<float> a = uniform_values(m * k, rng), b = uniform_values(k * n, rng);
  std::vector<float> first(static_cast<std::size_t>(m * n)), second(first.size());
  packed_gemm(false, true, m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f, first.data(), n);
  packed_gemm(false, true, m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f, second.data(), n);
  CHECK(first == second);
}

TEST_CASE("gemm: the same bits on 1 and 2 threads, split by rows and by columns") {
  Rng rng(13);
  // 100 rows: B packed on one thread, read in place by each half on two.
  for (const PackedCase s : {PackedCase{300, 100, 150}, PackedCase{64, 784, 256}, PackedCase{100, 40, 700}}) {
    for (const bool ta : {false, true}) {
      for (const bool tb : {false, true}) {
        const std::vector<float> a = uniform_values(s.m * s.k, rng), b = uniform_values(s.k * s.n, rng);
        const std::vector<float> c0 = uniform_values(s.m * s.n, rng);
        std::vector<float> one = c0, two = c0;
        const Transpose op_a = ta ? Transpose::yes : Transpose::no,
                        op_b = tb ? Transpose::yes : Transpose::no;
        set_thread_count(1);
        gemm(op_a, op_b, s.m, s.n, s.k, 1.0f, a, b, 1.0f, one);
        set_thread_count(2);
        gemm(op_a, op_b, s.m, s.n, s.k, 1.0f, a, b, 1.0f, two);
        CAPTURE(s.m);
        CAPTURE(ta);
        CAPTURE(tb);
        if (packed_gemm_available()) CHECK(one == two);  // OpenBLAS's blocking follows the split
      }
    }
  }
  set_thread_count(0);
}
