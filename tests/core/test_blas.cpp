#include <doctest/doctest.h>

#include "core/blas.hpp"
#include "core/errors.hpp"
#include "core/random.hpp"
#include "core/threads.hpp"
#include "support/gradient_check.hpp"

using namespace dlrun;

TEST_CASE("gemm matches the reference for every transpose combination and odd sizes") {
  Rng rng(5);
  for (const Transpose ta : {Transpose::no, Transpose::yes}) {
    for (const Transpose tb : {Transpose::no, Transpose::yes}) {
      const Index m = 7, n = 5, k = 9;
      const Tensor a = testing::random_normal({m, k}, rng);
      const Tensor b = testing::random_normal({k, n}, rng);
      Tensor c = testing::random_normal({m, n}, rng);
      Tensor expected = c;
      gemm(ta, tb, m, n, k, 0.5f, a.values(), b.values(), 2.0f, c.values());
      gemm_reference(ta, tb, m, n, k, 0.5f, a.values(), b.values(), 2.0f, expected.values());
      CHECK(testing::max_abs_difference(c, expected) < 1e-4);
    }
  }
}

TEST_CASE("gemm reference on a hand-computed product") {
  const std::vector<float> a{1, 2, 3, 4, 5, 6};  // 2x3
  const std::vector<float> b{1, 0, 0, 1, 1, 1};  // 3x2
  std::vector<float> c(4, 0.0f);
  gemm(Transpose::no, Transpose::no, 2, 2, 3, 1.0f, a, b, 0.0f, c);
  CHECK(c == std::vector<float>{4, 5, 10, 11});
}

TEST_CASE("gemm rejects spans smaller than their matrices") {
  std::vector<float> small(3), c(4);
  CHECK_THROWS_AS(gemm(Transpose::no, Transpose::no, 2, 2, 2, 1.0f, small, small, 0.0f, c), ShapeError);
}

TEST_CASE("gemm split across threads matches the reference, by rows and by columns") {
  Rng rng(6);
  struct Case {
    Index m, n, k;
  };
  for (const int threads : {1, 2, 3}) {
    set_thread_count(threads);
    for (const Case s : {Case{96, 40, 700}, Case{20, 300, 500}}) {
      for (const Transpose ta : {Transpose::no, Transpose::yes}) {
        for (const Transpose tb : {Transpose::no, Transpose::yes}) {
          CAPTURE(threads);
          CAPTURE(s.m);
          const Tensor a = testing::random_normal({s.m, s.k}, rng);
          const Tensor b = testing::random_normal({s.k, s.n}, rng);
          Tensor c = testing::random_normal({s.m, s.n}, rng);
          Tensor expected = c;
          gemm(ta, tb, s.m, s.n, s.k, 1.0f, a.values(), b.values(), 0.5f, c.values());
          gemm_reference(ta, tb, s.m, s.n, s.k, 1.0f, a.values(), b.values(), 0.5f, expected.values());
          CHECK(testing::max_abs_difference(c, expected) < 1e-3);
        }
      }
    }
  }
  set_thread_count(0);
}
