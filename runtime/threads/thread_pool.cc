#include "runtime/threads/thread_pool.h"


#include <sched.h>

#include <algorithm>
#include <chrono>
#include <new>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace edgemtl {
namespace {

constexpr uint64_t kIndexMask = 0xffffffffu;
// The caller's spin before it sleeps: some hundred microseconds at most (a
// task takes tens), so that a worker about to finish is not paid a futex
// wake-up (tens of microseconds on the measuring VM).
constexpr uint32_t kCallerSpins = 20000;

uint32_t generation_of(uint64_t word) { return static_cast<uint32_t>(word >> 32); }

// A hint to the core that this thread is spinning (frees the sibling
// hyper-thread, saves power).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__) || defined(__arm__)
  __asm__ __volatile__("yield");
#endif
}

int64_t microseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Result<std::unique_ptr<ThreadPool>> ThreadPool::create(int threads, SplitRule split) {
  if (threads < 1 || threads > 1024)
    return Status::error(Error::kInvalidArgument, "threads must be in [1, 1024], got %d", threads);
  std::unique_ptr<ThreadPool> pool(new (std::nothrow) ThreadPool());
  if (!pool) return Status::error(Error::kOutOfMemory, "cannot allocate a thread pool");
  pool->split_ = split;
  if (pool->split_.min_task_multiply_adds < 1) pool->split_.min_task_multiply_adds = 1;
  const size_t workers = static_cast<size_t>(threads) - 1;
  pool->handles_.reset(new (std::nothrow) pthread_t[workers == 0 ? 1 : workers]);
  if (!pool->handles_) return Status::error(Error::kOutOfMemory, "cannot allocate a thread pool");
  for (size_t i = 0; i < workers; ++i) {
    const int error = pthread_create(&pool->handles_[i], nullptr, &ThreadPool::worker_main, pool.get());
    if (error != 0)  // the destructor stops the ones started
      return Status::error(Error::kOutOfMemory, "cannot start worker thread %zu of %d (error %d)", i + 1, threads,
                           error);
    pool->workers_ = i + 1;
  }
  // Every worker has started before create returns, so that a thread's start-up
  // (its stack and TLS; under ASan its bookkeeping allocates) belongs to
  // Session::create, never to a warm call.
  while (pool->started_.load(std::memory_order_acquire) < workers) sched_yield();
  return pool;
}

ThreadPool::~ThreadPool() {
  pthread_mutex_lock(&mutex_);
  stop_ = true;
  pthread_cond_broadcast(&wake_);
  pthread_mutex_unlock(&mutex_);
  for (size_t i = 0; i < workers_; ++i) pthread_join(handles_[i], nullptr);
  pthread_cond_destroy(&wake_);
  pthread_cond_destroy(&finished_);
  pthread_mutex_destroy(&mutex_);
}

size_t ThreadPool::task_count(size_t blocks, size_t block_multiply_adds, size_t block_outputs) const {
  if (workers_ == 0 || blocks <= 1) return 1;
  if (block_multiply_adds < split_.min_multiply_adds_per_output * block_outputs) return 1;
  const size_t worth = blocks * block_multiply_adds / split_.min_task_multiply_adds;  // tasks of at least the minimum
  return std::max<size_t>(1, std::min({2 * threads(), blocks, worth}));
}

void ThreadPool::parallel_for(size_t count, Task task, void* context) {
  if (count == 0) return;
  if (workers_ == 0 || count == 1) {
    for (size_t i = 0; i < count; ++i) task(context, i);
    return;
  }
  count = std::min<size_t>(count, kIndexMask);
  const uint32_t generation = generation_of(job_.load(std::memory_order_relaxed)) + 1;
  // Late claimers of the previous job fail from here on (generation differs).
  cursor_.store(static_cast<uint64_t>(generation) << 32, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  task_.store(task, std::memory_order_relaxed);
  context_.store(context, std::memory_order_relaxed);
  const uint64_t job = (static_cast<uint64_t>(generation) << 32) | count;
  job_.store(job, std::memory_order_seq_cst);
  // Pairs with the worker's sleepers_ increment before it re-reads job_: one
  // of the two sees the other, so no worker sleeps through a job.
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    pthread_mutex_lock(&mutex_);
    pthread_cond_broadcast(&wake_);
    pthread_mutex_unlock(&mutex_);
  }
  run_tasks(job);
  // Only tasks already claimed by a running worker remain: wait for them,
  // asleep after a short spin (the worker may need this very core).
  for (uint32_t spins = 0; spins < kCallerSpins; ++spins) {
    if (done_.load(std::memory_order_acquire) >= count) return;
    cpu_relax();
  }
  pthread_mutex_lock(&mutex_);
  caller_waiting_.store(true, std::memory_order_seq_cst);
  while (done_.load(std::memory_order_seq_cst) < count) pthread_cond_wait(&finished_, &mutex_);
  caller_waiting_.store(false, std::memory_order_relaxed);
  pthread_mutex_unlock(&mutex_);
}

void ThreadPool::run_tasks(uint64_t job) {
  const uint32_t generation = generation_of(job);
  const uint64_t count = job & kIndexMask;
  for (;;) {
    uint64_t cursor = cursor_.load(std::memory_order_relaxed);
    do {
      if (generation_of(cursor) != generation || (cursor & kIndexMask) >= count) return;
    } while (!cursor_.compare_exchange_weak(cursor, cursor + 1, std::memory_order_acquire, std::memory_order_relaxed));
    // A claimed task keeps its job current (the caller waits for it), so
    // task_ and context_ are still this job's.
    task_.load(std::memory_order_relaxed)(context_.load(std::memory_order_relaxed),
                                          static_cast<size_t>(cursor & kIndexMask));
    // Pairs with the caller's caller_waiting_ store before it re-reads done_.
    if (done_.fetch_add(1, std::memory_order_seq_cst) + 1 == count &&
        caller_waiting_.load(std::memory_order_seq_cst)) {
      pthread_mutex_lock(&mutex_);
      pthread_cond_broadcast(&finished_);
      pthread_mutex_unlock(&mutex_);
    }
  }
}

void* ThreadPool::worker_main(void* pool) {
  static_cast<ThreadPool*>(pool)->worker_loop();
  return nullptr;
}

void ThreadPool::worker_loop() {
  started_.fetch_add(1, std::memory_order_release);
  uint32_t seen = generation_of(job_.load(std::memory_order_acquire));
  for (;;) {
    uint64_t job = job_.load(std::memory_order_acquire);
    const auto start = std::chrono::steady_clock::now();
    for (uint32_t spins = 0; generation_of(job) == seen; ++spins) {
      if ((spins & 255) == 255 && microseconds_since(start) >= kSpinMicroseconds) break;
      cpu_relax();
      job = job_.load(std::memory_order_acquire);
    }
    if (generation_of(job) == seen) {
      pthread_mutex_lock(&mutex_);
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      while (!stop_ && generation_of(job = job_.load(std::memory_order_seq_cst)) == seen)
        pthread_cond_wait(&wake_, &mutex_);
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      const bool stop = stop_;
      pthread_mutex_unlock(&mutex_);
      if (stop) return;
    }
    seen = generation_of(job);
    run_tasks(job);
  }
}

}  // namespace edgemtl
