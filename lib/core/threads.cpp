#include "core/threads.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/blas.hpp"
#include "core/float_mode.hpp"

namespace dlrun {
namespace {

thread_local bool inside_worker = false;
class ThreadPool;
// Inside a run_tasks job: the job's own pool (its share of the threads), which its parallel loops
// use instead of the process-wide one.
thread_local ThreadPool* job_pool = nullptr;
constexpr auto kNoTask = [](Index, Index) {};

class ThreadPool {
 public:
  explicit ThreadPool(int threads) {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { work(i); });
  }
  ~ThreadPool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      generation_.fetch_add(1);
    }
    wake_.notify_all();
    for (auto& worker : workers_) worker.join();
  }
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Returns false (and runs nothing) when another thread is using the pool.
  bool try_run(int chunks, RangeFunction task) {
    std::unique_lock busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    {
      std::lock_guard lock(mutex_);
      task_ = task;
      chunks_ = chunks;
      float_mode_ = float_mode();
      pending_.store(static_cast<int>(workers_.size()));
      error_ = nullptr;
      generation_.fetch_add(1);
    }
    wake_.notify_all();
    run_chunk(0);
    if (!spin_until([this] { return pending_.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock lock(mutex_);
      done_.wait(lock, [this] { return pending_.load() == 0; });
    }
    if (error_) std::rethrow_exception(error_);
    return true;
  }

 private:
  // Thread `index` runs chunks index, index + size(), ...: a job's pool may have fewer threads
  // than the chunks, which follow thread_count() so that results do not depend on the pool.
  void run_chunk(int index) {
    if (index >= chunks_) return;
    inside_worker = true;
    try {
      for (int chunk = index; chunk < chunks_; chunk += size()) task_(chunk, chunk + 1);
    } catch (...) {
      std::lock_guard lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    inside_worker = false;
  }

  // Waits by spinning, for up to kSpinTime, before sleeping: a training step calls the pool many
  // times in a row, and in a VM a futex sleep and wake costs far more than the gaps between those
  // calls. With a 76 us spin (4,000 pauses of 19 ns here) the worker still slept and was woken
  // about once per seed_cnn step (1,225 context switches per epoch, 246 with this spin), and
  // 2-thread epochs took 3.90 s against 3.65 s (medians of 5 alternating runs).
  template <typename Ready>
  static bool spin_until(const Ready& ready) {
    const auto deadline = std::chrono::steady_clock::now() + kSpinTime;
    for (unsigned i = 1;; ++i) {
      if (ready()) return true;
      __builtin_ia32_pause();
      if (i % 64 == 0 && std::chrono::steady_clock::now() >= deadline) return ready();
    }
  }

  void work(int index) {
    std::uint64_t seen = 0;
    for (;;) {
      if (!spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; })) {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return generation_.load() != seen; });
      }
      {
        std::lock_guard lock(mutex_);  // task_, chunks_ and stopping_ were written under it
        seen = generation_.load();
        if (stopping_) return;
      }
      set_float_mode(float_mode_);  // the caller's, so a chunk's result does not depend on the thread
      run_chunk(index);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard lock(mutex_);
        done_.notify_one();
      }
    }
  }

  static constexpr std::chrono::microseconds kSpinTime{1000};

  std::vector<std::thread> workers_;
  std::mutex busy_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  RangeFunction task_ = kNoTask;
  int chunks_ = 0;
  unsigned float_mode_ = float_mode();
  std::atomic<int> pending_{0};
  std::atomic<std::uint64_t> generation_{0};
  bool stopping_ = false;
  std::exception_ptr error_;
};

int default_threads() {
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

std::unique_ptr<ThreadPool>& pool() {
  static std::unique_ptr<ThreadPool> instance = std::make_unique<ThreadPool>(default_threads());
  return instance;
}

}  // namespace

void set_thread_count(int threads) {
  if (threads <= 0) threads = default_threads();
  if (pool()->size() != threads) pool() = std::make_unique<ThreadPool>(threads);
  // OpenBLAS stays single-threaded: dlrun's pool splits large GEMMs itself (core/blas.cpp). Two
  // thread teams on two cores oversubscribe them: OpenBLAS's idle workers spin after each call
  // while ours run im2col and pooling.
  set_blas_threads(1);
}

int thread_count() {
  return pool()->size();
}

int running_threads() {
  if (inside_worker) return 1;
  return job_pool != nullptr ? job_pool->size() : thread_count();
}

void parallel_for(Index count, RangeFunction body, Index min_chunk) {
  if (count <= 0) return;
  ThreadPool& runner = job_pool != nullptr ? *job_pool : *pool();
  const Index threads = inside_worker || runner.size() == 1 ? 1 : thread_count();
  const Index chunks = std::min<Index>(threads, count / std::max<Index>(min_chunk, 1));
  if (chunks <= 1) {
    body(0, count);
    return;
  }
  const auto task = [&](Index chunk, Index /*unused*/) {
    const Index begin = count * chunk / chunks;
    const Index end = count * (chunk + 1) / chunks;
    if (begin < end) body(begin, end);
  };
  if (!runner.try_run(static_cast<int>(chunks), task)) body(0, count);
}

}  // namespace dlrun

namespace dlrun {

void run_tasks(Index count, int jobs, const std::function<void(Index)>& task) {
  if (jobs <= 1 || count <= 1) {
    for (Index i = 0; i < count; ++i) task(i);
    return;
  }
  std::atomic<Index> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::exception_ptr error;
  const Index started = std::min<Index>(jobs, count);
  // Each job gets an equal share of the threads (at least one) as a pool of its own.
  const int share = std::max(1, thread_count() / static_cast<int>(started));
  const unsigned mode = float_mode();
  auto work = [&] {
    set_float_mode(mode);  // the caller's; the job's pool hands it on to its workers
    ThreadPool own(share);
    job_pool = &own;
    for (Index i = next.fetch_add(1); i < count && !failed.load(); i = next.fetch_add(1)) {
      try {
        task(i);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        failed.store(true);
      }
    }
    job_pool = nullptr;
  };
  std::vector<std::thread> threads;
  for (Index t = 0; t < started; ++t) threads.emplace_back(work);
  for (std::thread& thread : threads) thread.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace dlrun
