#include "core/blas.hpp"

#include <cblas.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "core/errors.hpp"
#include "core/packed_gemm.hpp"
#include "core/threads.hpp"

namespace dlrun {
namespace {

blasint to_blas_int(Index value) {
  if (value < 0 || value > std::numeric_limits<blasint>::max()) {
    throw ShapeError("gemm: dimension " + std::to_string(value) + " does not fit the BLAS integer type");
  }
  return static_cast<blasint>(value);
}

void require_span_size(std::size_t have, Index need, const char* what) {
  if (static_cast<Index>(have) < need) {
    throw ShapeError(std::string("gemm: ") + what + " holds " + std::to_string(have) + " values, needs " +
                     std::to_string(need));
  }
}

GemmKernel default_gemm_kernel() {
  const char* forced = std::getenv("DLRUN_GEMM");
  if (forced != nullptr && std::strcmp(forced, "openblas") == 0) return GemmKernel::openblas;
  return packed_gemm_available() ? GemmKernel::packed : GemmKernel::openblas;
}

std::atomic<GemmKernel>& selected_kernel() {
  static std::atomic<GemmKernel> kernel{default_gemm_kernel()};
  return kernel;
}

// One single-threaded call on a sub-problem; leading dimensions are those of the full matrices.
void sgemm_block(bool ta, bool tb, Index m, Index n, Index k, float alpha, const float* a, Index lda,
                 const float* b, Index ldb, float beta, float* c, Index ldc) {
  if (selected_kernel().load(std::memory_order_relaxed) == GemmKernel::packed) {
    packed_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, to_blas_int(m),
              to_blas_int(n), to_blas_int(k), alpha, a, to_blas_int(lda), b, to_blas_int(ldb), beta, c,
              to_blas_int(ldc));
}

// Below this many multiply-adds a GEMM runs on the calling thread: splitting costs more than it saves.
constexpr Index kParallelMultiplyAdds = Index{1} << 21;
constexpr Index kMinBlock = 16;  // rows or columns per thread

}  // namespace

void gemm(Transpose transpose_a, Transpose transpose_b, Index m, Index n, Index k, float alpha,
          std::span<const float> a, std::span<const float> b, float beta, std::span<float> c) {
  require_span_size(a.size(), m * k, "A");
  require_span_size(b.size(), k * n, "B");
  require_span_size(c.size(), m * n, "C");
  if (m == 0 || n == 0) return;
  const bool ta = transpose_a == Transpose::yes;
  const bool tb = transpose_b == Transpose::yes;
  const Index lda = ta ? m : k;  // leading dimensions as stored
  const Index ldb = tb ? k : n;
  // dlrun's own pool splits large GEMMs (OpenBLAS itself stays single-threaded, see threads.cpp):
  // by rows of C when there are enough, else by columns. Each block is an independent
  // single-threaded call on sub-matrices addressed through the full leading dimensions. The packed
  // kernel sums every C value alike in any block, so its results do not depend on the split at
  // all; OpenBLAS's do, through its own blocking of each call.
  if (m * n * k < kParallelMultiplyAdds || thread_count() == 1) {
    sgemm_block(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), n);
    return;
  }
  // The blocks depend only on the sizes and thread_count(), not on how many threads run them: a
  // GEMM called where parallel_for runs inline (a cv fold or search trial under run_tasks) does
  // the same calls, and so gives the same bits, as one split over the pool.
  const bool by_rows = m >= n;
  const Index extent = by_rows ? m : n;
  const Index blocks = std::min<Index>(thread_count(), extent / kMinBlock);
  if (blocks <= 1) {
    sgemm_block(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), n);
    return;
  }
  parallel_for(blocks, [&](Index first, Index last) {
    for (Index block = first; block < last; ++block) {
      const Index begin = extent * block / blocks;
      const Index end = extent * (block + 1) / blocks;
      if (by_rows) {
        const float* a_block = a.data() + (ta ? begin : begin * k);
        sgemm_block(ta, tb, end - begin, n, k, alpha, a_block, lda, b.data(), ldb, beta, c.data() + begin * n,
                    n);
      } else {
        const float* b_block = b.data() + (tb ? begin * k : begin);
        sgemm_block(ta, tb, m, end - begin, k, alpha, a.data(), lda, b_block, ldb, beta, c.data() + begin, n);
      }
    }
  });
}

void gemm_reference(Transpose transpose_a, Transpose transpose_b, Index m, Index n, Index k, float alpha,
                    std::span<const float> a, std::span<const float> b, float beta, std::span<float> c) {
  require_span_size(a.size(), m * k, "A");
  require_span_size(b.size(), k * n, "B");
  require_span_size(c.size(), m * n, "C");
  const bool ta = transpose_a == Transpose::yes;
  const bool tb = transpose_b == Transpose::yes;
  for (Index i = 0; i < m; ++i) {
    for (Index j = 0; j < n; ++j) {
      double sum = 0.0;
      for (Index p = 0; p < k; ++p) {
        const double av =
            ta ? a[static_cast<std::size_t>(p * m + i)] : a[static_cast<std::size_t>(i * k + p)];
        const double bv =
            tb ? b[static_cast<std::size_t>(j * k + p)] : b[static_cast<std::size_t>(p * n + j)];
        sum += av * bv;
      }
      float& out = c[static_cast<std::size_t>(i * n + j)];
      out = static_cast<float>(alpha * sum + (beta == 0.0f ? 0.0 : beta * static_cast<double>(out)));
    }
  }
}

GemmKernel gemm_kernel() {
  return selected_kernel().load();
}

void set_gemm_kernel(GemmKernel kernel) {
  if (kernel == GemmKernel::packed && !packed_gemm_available()) {
    throw std::invalid_argument("gemm: the packed kernel needs AVX-512F, which this CPU lacks");
  }
  selected_kernel().store(kernel);
}

std::string blas_core_name() {
  if (gemm_kernel() == GemmKernel::packed) return kPackedGemmCoreName;
  const char* name = openblas_get_corename();
  std::string text = name ? name : "";
  while (!text.empty() && (text.back() == ' ' || text.back() == '\n')) text.pop_back();
  return text;
}

void set_blas_threads(int threads) {
  openblas_set_num_threads(threads < 1 ? 1 : threads);
}

}  // namespace dlrun
