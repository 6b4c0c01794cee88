// dlrun_gemm_bench: the GEMM figures behind docs/performance.md, printed as one JSON object.
//   dlrun_gemm_bench peak [--threads N]    sgemm GFLOP/s at large square sizes (OpenBLAS, tile_gemm,
//                                          the packed kernel): the roofline that scripts/bench
//                                          divides each model's FLOP rate by
//   dlrun_gemm_bench shapes                the batch-64 GEMMs of the benchmark models on two
//                                          cores, run four ways through OpenBLAS (dense_figures,
//                                          conv_figures)
//   dlrun_gemm_bench kernels [--threads N] gemm() through OpenBLAS against dlrun's packed AVX-512
//                                          kernel: the models' batch-64 GEMMs and 512-2048 squares
// Built on request only (cmake --build build --target dlrun_gemm_bench; scripts/bench does it).
// Times are the fastest of several repetitions: the machine is shared, and the fastest run is
// the one least disturbed by other processes.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "core/blas.hpp"
#include "core/packed_gemm.hpp"
#include "core/random.hpp"
#include "core/threads.hpp"
#include "core/tile_gemm.hpp"

using namespace dlrun;

namespace {

using Clock = std::chrono::steady_clock;

std::vector<float> random_values(Index count, Rng& rng) {
  std::vector<float> values(static_cast<std::size_t>(count));
  for (float& v : values) v = static_cast<float>(rng.next_u64() % 2001) / 1000.0f - 1.0f;
  return values;
}

double process_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

// Wall and CPU (all threads of the process, spinning included) seconds per call of `body`: calls
// repeated for at least `min_seconds`, in `trials` runs; each figure is the smallest of the runs.
// On a loaded machine the wall time grows with the load and the CPU time hardly does: a
// single-threaded call's flops per CPU second is the core's own rate.
struct Timing {
  double wall = 1e30;
  double cpu = 1e30;
};

Timing time_calls(const std::function<void()>& body, double min_seconds = 0.05, int trials = 5) {
  body();  // warm: first-touch pages, OpenBLAS buffers
  Timing best;
  for (int t = 0; t < trials; ++t) {
    int calls = 0;
    const auto start = Clock::now();
    const double cpu_start = process_cpu_seconds();
    double elapsed = 0.0;
    do {
      body();
      ++calls;
      elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    } while (elapsed < min_seconds);
    best.wall = std::min(best.wall, elapsed / calls);
    best.cpu = std::min(best.cpu, (process_cpu_seconds() - cpu_start) / calls);
  }
  return best;
}

struct Gemm {
  Transpose ta, tb;
  Index m, n, k;
  double flops() const {
    return 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  }
};

struct Operands {
  std::vector<float> a, b, c;
  Operands(const Gemm& g, Rng& rng)
      : a(random_values(g.m * g.k, rng)),
        b(random_values(g.k * g.n, rng)),
        c(static_cast<std::size_t>(g.m * g.n)) {}
  void run(const Gemm& g) { gemm(g.ta, g.tb, g.m, g.n, g.k, 1.0f, a, b, 0.0f, c); }
};

// dlrun::gemm with `pool` threads of dlrun's own (OpenBLAS single-threaded inside them), or one
// dlrun thread and `blas` OpenBLAS threads.
void configure(int pool, int blas) {
  set_thread_count(pool);  // resets OpenBLAS to one thread
  set_blas_threads(blas);
}

std::string json_number(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.4g", value);
  return text;
}

// "name": {"gflops": per wall second, "gflops_per_cpu_second": per CPU second of the process}
std::string rate(const char* name, double flops, const Timing& timing) {
  return std::string("\"") + name + "\": {\"gflops\": " + json_number(flops / timing.wall / 1e9) +
         ", \"gflops_per_cpu_second\": " + json_number(flops / timing.cpu / 1e9) + "}";
}

// OpenBLAS (one thread, split over dlrun's threads, its own threads), tile_gemm and, where the CPU
// has AVX-512F, dlrun's packed kernel (one thread, split over dlrun's threads). The roofline,
// sgemm_peak_gflops, is the fastest of them all.
void peak(int threads) {
  Rng rng(1);
  const GemmKernel chosen = gemm_kernel();
  const bool packed = packed_gemm_available();
  std::string out = "{\"threads\": " + std::to_string(threads) + ", \"sizes\": [";
  double best_openblas = 0.0;
  double best_packed = 0.0;
  double best_tile = 0.0;
  double best_core = 0.0;  // one thread, per CPU second
  bool first = true;
  for (Index size : {512, 1024, 2048}) {
    const Gemm g{Transpose::no, Transpose::no, size, size, size};
    Operands ops(g, rng);
    set_gemm_kernel(GemmKernel::openblas);
    configure(1, 1);
    const Timing one = time_calls([&] { ops.run(g); }, 0.2, 3);
    configure(threads, 1);
    const Timing split = time_calls([&] { ops.run(g); }, 0.2, 3);
    configure(1, threads);
    const Timing blas = time_calls([&] { ops.run(g); }, 0.2, 3);
    configure(threads, 1);
    const Timing tile = time_calls(
        [&] {
          tile_gemm_nn_parallel(size, size, size, ops.a.data(), size, ops.b.data(), size, false, ops.c.data(),
                                size);
        },
        0.2, 3);
    best_openblas = std::max({best_openblas, g.flops() / split.wall / 1e9, g.flops() / blas.wall / 1e9});
    best_tile = std::max(best_tile, g.flops() / tile.wall / 1e9);
    best_core = std::max(best_core, g.flops() / one.cpu / 1e9);
    out += std::string(first ? "" : ", ") + "{\"size\": " + std::to_string(size) + ", " +
           rate("openblas_1_thread", g.flops(), one) + ", " +
           rate("openblas_split_by_dlrun", g.flops(), split) + ", " +
           rate("openblas_own_threads", g.flops(), blas) + ", " + rate("tile_gemm", g.flops(), tile);
    if (packed) {
      set_gemm_kernel(GemmKernel::packed);
      configure(1, 1);
      const Timing packed_one = time_calls([&] { ops.run(g); }, 0.2, 3);
      configure(threads, 1);
      const Timing packed_split = time_calls([&] { ops.run(g); }, 0.2, 3);
      best_packed = std::max(best_packed, g.flops() / packed_split.wall / 1e9);
      best_core = std::max(best_core, g.flops() / packed_one.cpu / 1e9);
      out += ", " + rate("packed_1_thread", g.flops(), packed_one) + ", " +
             rate("packed_split_by_dlrun", g.flops(), packed_split);
    }
    out += "}";
    first = false;
  }
  set_gemm_kernel(chosen);
  out += "], \"gemm_kernel\": \"" + blas_core_name() +
         "\", \"sgemm_peak_gflops\": " + json_number(std::max(best_openblas, best_packed)) +
         ", \"openblas_peak_gflops\": " + json_number(best_openblas) +
         (packed ? ", \"packed_gemm_peak_gflops\": " + json_number(best_packed) : std::string()) +
         ", \"tile_gemm_peak_gflops\": " + json_number(best_tile) +
         ", \"one_core_gflops_per_cpu_second\": " + json_number(best_core) + "}";
  std::puts(out.c_str());
}

// One layer's three GEMMs at batch 64 (forward Y = X W^T, dX = dY W, dW = dY^T X), or a
// convolution's per-sample GEMMs.
struct DenseLayer {
  const char* name;
  Index batch, in, out;
};
struct ConvLayer {
  const char* name;
  Index batch, filters, k, positions;  // per sample: (filters, k) x (k, positions)
};

// Ways to use two cores for a dense layer's three GEMMs:
//   blas_1t      one OpenBLAS thread, the three GEMMs in turn (the one-core baseline)
//   blas_2t      OpenBLAS's two threads inside each call
//   split_c      dlrun's pool splits each GEMM's C into two blocks of single-threaded calls (dlrun)
//   concurrent   forward alone (split_c), then dX and dW at the same time, one per core
std::string dense_figures(const DenseLayer& layer, Rng& rng) {
  const Gemm forward{Transpose::no, Transpose::yes, layer.batch, layer.out, layer.in};
  const Gemm grad_input{Transpose::no, Transpose::no, layer.batch, layer.in, layer.out};
  const Gemm grad_weight{Transpose::yes, Transpose::no, layer.out, layer.in, layer.batch};
  Operands f(forward, rng), gi(grad_input, rng), gw(grad_weight, rng);
  const double flops = forward.flops() + grad_input.flops() + grad_weight.flops();
  auto all = [&] {
    f.run(forward);
    gi.run(grad_input);
    gw.run(grad_weight);
  };
  configure(1, 1);
  const Timing one = time_calls(all);
  configure(1, 2);
  const Timing blas2 = time_calls(all);
  configure(2, 1);
  const Timing split = time_calls(all);
  const Timing concurrent = time_calls([&] {
    f.run(forward);
    parallel_for(2, [&](Index begin, Index end) {
      for (Index i = begin; i < end; ++i) {
        // Inside a worker dlrun::gemm runs inline, single-threaded.
        if (i == 0)
          gi.run(grad_input);
        else
          gw.run(grad_weight);
      }
    });
  });
  auto entry = [&](const char* key, const Timing& timing) {
    return std::string("\"") + key + "\": {\"us\": " + json_number(timing.wall * 1e6) +
           ", \"cpu_us\": " + json_number(timing.cpu * 1e6) +
           ", \"gflops\": " + json_number(flops / timing.wall / 1e9) + "}";
  };
  return std::string("{\"layer\": \"") + layer.name +
         "\", \"kind\": \"dense\", \"batch\": " + std::to_string(layer.batch) +
         ", \"in\": " + std::to_string(layer.in) + ", \"out\": " + std::to_string(layer.out) + ", " +
         entry("blas_1t", one) + ", " + entry("blas_2t", blas2) + ", " + entry("split_c", split) + ", " +
         entry("concurrent", concurrent) + "}";
}

// Ways to use two cores for a convolution's forward GEMMs over a batch (im2col done beforehand):
//   blas_1t        per-sample GEMMs in turn, one OpenBLAS thread (the one-core baseline)
//   blas_2t        per-sample GEMMs, OpenBLAS's two threads inside each
//   batch_split    the samples split over dlrun's two threads, single-threaded GEMMs (dlrun)
//   one_gemm_2t    one GEMM over the whole batch's columns, (F, K) x (K, N*P), OpenBLAS's threads
std::string conv_figures(const ConvLayer& layer, Rng& rng) {
  const Gemm per_sample{Transpose::no, Transpose::no, layer.filters, layer.positions, layer.k};
  const Gemm batched{Transpose::no, Transpose::no, layer.filters, layer.positions * layer.batch, layer.k};
  Operands ops(batched, rng);
  const Index sample_columns = layer.k * layer.positions;
  const Index sample_outputs = layer.filters * layer.positions;
  auto sample = [&](Index s) {
    gemm(Transpose::no, Transpose::no, layer.filters, layer.positions, layer.k, 1.0f, ops.a,
         std::span<const float>(ops.b).subspan(static_cast<std::size_t>(s * sample_columns),
                                               static_cast<std::size_t>(sample_columns)),
         0.0f,
         std::span<float>(ops.c).subspan(static_cast<std::size_t>(s * sample_outputs),
                                         static_cast<std::size_t>(sample_outputs)));
  };
  auto loop = [&] {
    for (Index s = 0; s < layer.batch; ++s) sample(s);
  };
  configure(1, 1);
  const Timing one = time_calls(loop);
  configure(1, 2);
  const Timing blas2 = time_calls(loop);
  const Timing batched_2t = time_calls([&] { ops.run(batched); });
  configure(2, 1);
  const Timing split = time_calls([&] {
    parallel_for(layer.batch, [&](Index begin, Index end) {
      for (Index s = begin; s < end; ++s) sample(s);
    });
  });
  const double flops = per_sample.flops() * static_cast<double>(layer.batch);
  auto entry = [&](const char* key, const Timing& timing) {
    return std::string("\"") + key + "\": {\"us\": " + json_number(timing.wall * 1e6) +
           ", \"cpu_us\": " + json_number(timing.cpu * 1e6) +
           ", \"gflops\": " + json_number(flops / timing.wall / 1e9) + "}";
  };
  return std::string("{\"layer\": \"") + layer.name +
         "\", \"kind\": \"conv forward\", \"batch\": " + std::to_string(layer.batch) +
         ", \"filters\": " + std::to_string(layer.filters) + ", \"k\": " + std::to_string(layer.k) +
         ", \"positions\": " + std::to_string(layer.positions) + ", " + entry("blas_1t", one) + ", " +
         entry("blas_2t", blas2) + ", " + entry("batch_split", split) + ", " +
         entry("one_gemm_2t", batched_2t) + "}";
}

void shapes() {
  set_gemm_kernel(GemmKernel::openblas);  // these figures compare ways of running OpenBLAS
  Rng rng(2);
  const DenseLayer dense[] = {
      {"quickstart fc1", 64, 784, 256}, {"quickstart fc2", 64, 256, 128}, {"seed_cnn fc1", 64, 5408, 128},
      {"lenet5 f5", 64, 400, 120},      {"lenet5 f6", 64, 120, 84},
  };
  const ConvLayer conv[] = {
      {"lenet5 c3", 64, 16, 150, 100},
      {"fmnist_cnn_bn conv2", 64, 64, 288, 196},
  };
  std::string out = "{\"threads\": 2, \"layers\": [";
  bool first = true;
  for (const DenseLayer& layer : dense) {
    out += (first ? "" : ",\n  ") + dense_figures(layer, rng);
    first = false;
  }
  for (const ConvLayer& layer : conv) out += ",\n  " + conv_figures(layer, rng);
  out += "]}";
  std::puts(out.c_str());
}

// gemm() on `threads` of dlrun's threads through each kernel, per shape: what routing gemm() to the
// packed kernel gains (or loses) on the products the models make.
void kernels(int threads) {
  if (!packed_gemm_available()) {
    std::puts("{\"packed\": \"unavailable: this CPU has no AVX-512F\"}");
    return;
  }
  struct Named {
    const char* name;
    Gemm gemm;
  };
  const Transpose N = Transpose::no, T = Transpose::yes;
  // Dense (batch 64, in -> out): forward X W^T (N, T), input gradient dY W (N, N), weight gradient
  // dY^T X (T, N). Convolutions: per block of samples (conv2d.cpp's forward_block, backward_block).
  const Named shapes[] = {
      {"quickstart fc1 forward", {N, T, 64, 256, 784}},
      {"quickstart fc1 weight grad", {T, N, 256, 784, 64}},
      {"quickstart fc2 forward", {N, T, 64, 128, 256}},
      {"quickstart fc2 input grad", {N, N, 64, 256, 128}},
      {"quickstart fc2 weight grad", {T, N, 128, 256, 64}},
      {"quickstart out forward", {N, T, 64, 10, 128}},
      {"quickstart out input grad", {N, N, 64, 128, 10}},
      {"quickstart out weight grad", {T, N, 10, 128, 64}},
      {"seed_cnn fc1 forward", {N, T, 64, 128, 5408}},
      {"seed_cnn fc1 weight grad", {T, N, 128, 5408, 64}},
      {"lenet5 f5 forward", {N, T, 64, 120, 400}},
      {"lenet5 f5 input grad", {N, N, 64, 400, 120}},
      {"lenet5 f5 weight grad", {T, N, 120, 400, 64}},
      {"lenet5 f6 forward", {N, T, 64, 84, 120}},
      {"lenet5 f6 weight grad", {T, N, 84, 120, 64}},
      {"lenet5 c3 forward (6 samples)", {N, N, 16, 600, 150}},
      {"lenet5 c3 weight grad", {N, T, 16, 150, 600}},
      {"lenet5 c3 input grad", {T, N, 150, 600, 16}},
      {"fmnist_cnn_bn conv2 forward (3 samples)", {N, N, 64, 588, 288}},
      {"fmnist_cnn_bn conv2 weight grad", {N, T, 64, 288, 588}},
      {"fmnist_cnn_bn conv2 input grad", {T, N, 288, 588, 64}},
      {"square 512", {N, N, 512, 512, 512}},
      {"square 1024", {N, N, 1024, 1024, 1024}},
      {"square 2048", {N, N, 2048, 2048, 2048}},
  };
  Rng rng(3);
  configure(threads, 1);
  std::string out = "{\"threads\": " + std::to_string(threads) + ", \"shapes\": [";
  bool first = true;
  for (const Named& shape : shapes) {
    Operands ops(shape.gemm, rng);
    const double seconds = shape.gemm.m * shape.gemm.n * shape.gemm.k > 1e8 ? 0.3 : 0.05;
    set_gemm_kernel(GemmKernel::openblas);
    const Timing openblas = time_calls([&] { ops.run(shape.gemm); }, seconds, 5);
    set_gemm_kernel(GemmKernel::packed);
    const Timing packed = time_calls([&] { ops.run(shape.gemm); }, seconds, 5);
    out += std::string(first ? "" : ",\n  ") + "{\"shape\": \"" + shape.name +
           "\", \"m\": " + std::to_string(shape.gemm.m) + ", \"n\": " + std::to_string(shape.gemm.n) +
           ", \"k\": " + std::to_string(shape.gemm.k) +
           ", \"us_openblas\": " + json_number(openblas.wall * 1e6) +
           ", \"us_packed\": " + json_number(packed.wall * 1e6) + ", " +
           rate("openblas", shape.gemm.flops(), openblas) + ", " +
           rate("packed", shape.gemm.flops(), packed) + "}";
    first = false;
  }
  out += "]}";
  std::puts(out.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  int threads = 2;
  for (int i = 2; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--threads") == 0) threads = std::max(1, std::atoi(argv[i + 1]));
  }
  if (mode == "peak") {
    peak(threads);
  } else if (mode == "shapes") {
    shapes();
  } else if (mode == "kernels") {
    kernels(threads);
  } else {
    std::fprintf(stderr, "usage: dlrun_gemm_bench peak [--threads N] | shapes | kernels [--threads N]\n");
    return 2;
  }
  return 0;
}
