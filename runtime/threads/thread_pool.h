// ThreadPool: the runtime's own workers, for a Session's tile lanes (whole
// item tiles in parallel, runtime/README.md "Threads") and its own kernels'
// row splits (the int8 VNNI GEMM, the f32 GEMMs), built for cores that are
// shared, as on a phone.
//
// Why not pthreadpool (which XNNPACK's GEMMs still use): a pthreadpool call
// returns only after every worker has woken up and checked in, so one worker
// that the OS does not schedule (another app busy on its core) stalls every
// layer; measured on R500 with a CPU hog, 2 threads ran at 0.15-0.41x of one.
// Here the caller never waits for a worker that has not started a task:
//  - tasks are claimed one at a time from a counter (the caller claims too),
//    so work a sleeping worker would have done is done by whoever is running;
//  - the caller waits only for tasks already claimed, and callers split work
//    into few large tasks (about two per thread), so that wait is bounded by
//    one task; it waits asleep after a short spin, so that a worker sharing
//    its core gets the core;
//  - workers spin for at most kSpinMicroseconds after a job (layers of one
//    stage follow each other within microseconds), then sleep on a condition
//    variable: an idle app costs no CPU.
// Which thread runs a task never changes what it computes: kernels split by
// output rows, each element accumulated in the same order, so results are
// bitwise identical for any number of threads.
#pragma once

#include <pthread.h>
#include <pthreadpool.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "runtime/core/result.h"

namespace edgemtl {

/// Work below this many f32 multiply-adds per task is not worth a split: a
/// task of 4M takes about 20 us on one core (int8 kernels count a
/// multiply-add as a quarter), well above what waking a worker costs.
constexpr size_t kMinTaskMultiplyAdds = size_t{4} << 20;

/// Nor is a layer of fewer f32 multiply-adds per output element: a worker's
/// share of the output is written into its own core's cache, and the next
/// operator, on the calling thread, reads it back across cores (and the next
/// tile's writes take those lines back). Measured on R500 (Zen 5): the item
/// stage's 168 x 116 x 2048 layer ran 1.6x faster on 2 threads in f32 (116
/// per output) but 1.8x slower in int8 (29 per output, a quarter of 116).
constexpr size_t kMinMultiplyAddsPerOutput = 64;

/// When ThreadPool::task_count splits work.
struct SplitRule {
  size_t min_task_multiply_adds = kMinTaskMultiplyAdds;
  size_t min_multiply_adds_per_output = kMinMultiplyAddsPerOutput;
};
/// Splits any work into as many tasks as it has blocks (kernel tests).
constexpr SplitRule kSplitAnything{1, 0};

class ThreadPool {
 public:
  using Task = void (*)(void* context, size_t index);

  /// Bounded spinning of idle workers before they sleep.
  static constexpr int64_t kSpinMicroseconds = 300;

  /// `threads` counts the caller: threads - 1 workers are started (none for
  /// 1). Fails with kOutOfMemory when the OS refuses a thread.
  static Result<std::unique_ptr<ThreadPool>> create(int threads, SplitRule split = SplitRule{});
  /// Stops and joins the workers. No parallel_for may be running.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  /// Threads that may run tasks, the caller included.
  size_t threads() const { return workers_ + 1; }

  /// Runs task(context, i) for every i in [0, count) and returns when all have
  /// finished; the caller runs tasks itself. Not reentrant: one call at a time
  /// (a Session is used by one thread). Allocates nothing.
  void parallel_for(size_t count, Task task, void* context);

  /// Tasks for `blocks` blocks of `block_multiply_adds` (f32; int8 counts a
  /// quarter) producing `block_outputs` output elements each: about two per
  /// thread (so that a descheduled thread delays the call by at most a small
  /// share), at most one per block, none under the pool's SplitRule; at least 1.
  size_t task_count(size_t blocks, size_t block_multiply_adds, size_t block_outputs) const;

 private:
  ThreadPool() = default;
  static void* worker_main(void* pool);
  void worker_loop();
  /// Claims and runs tasks of `job` (see job_) until none is left.
  void run_tasks(uint64_t job);

  size_t workers_ = 0;
  SplitRule split_;
  std::unique_ptr<pthread_t[]> handles_;
  pthread_mutex_t mutex_ = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t wake_ = PTHREAD_COND_INITIALIZER;       // workers: a new job (or stop)
  pthread_cond_t finished_ = PTHREAD_COND_INITIALIZER;   // the caller: the last task is done
  bool stop_ = false;  // guarded by mutex_

  // The current job. `cursor_` packs (generation << 32) | next task index, so
  // that a worker that wakes up late for an older job claims nothing from a
  // newer one (the generations differ).
  // `job_` packs (generation << 32) | task count and is published last.
  std::atomic<uint64_t> job_{0};
  std::atomic<uint64_t> cursor_{0};
  std::atomic<size_t> done_{0};
  std::atomic<int> sleepers_{0};  // workers in (or entering) the condition wait
  std::atomic<size_t> started_{0};  // workers that have begun worker_loop
  std::atomic<bool> caller_waiting_{false};
  std::atomic<Task> task_{nullptr};
  std::atomic<void*> context_{nullptr};
};

/// The threads a kernel may use, owned by the Session: XNNPACK's GEMMs take a
/// pthreadpool, the runtime's own kernels the ThreadPool. Both null with one
/// thread. Elementwise kernels get neither: on an item tile they are too short
/// to gain from a split, and every split costs a wake-up (see above).
struct KernelThreads {
  pthreadpool_t xnnpack = nullptr;
  ThreadPool* pool = nullptr;

  /// `xnnpack` for a GEMM of `multiply_adds`, or null when it is too small to
  /// split into two tasks of kMinTaskMultiplyAdds: a pthreadpool call waits
  /// for every worker to wake, which under load costs more than the GEMM.
  pthreadpool_t xnnpack_for(size_t multiply_adds) const {
    return multiply_adds >= 2 * kMinTaskMultiplyAdds ? xnnpack : nullptr;
  }
};

/// pool->parallel_for(...), or the tasks in order on the calling thread when
/// `pool` is null (a Session of one thread).
inline void parallel_for(ThreadPool* pool, size_t count, ThreadPool::Task task, void* context) {
  if (pool != nullptr) {
    pool->parallel_for(count, task, context);
    return;
  }
  for (size_t i = 0; i < count; ++i) task(context, i);
}

}  // namespace edgemtl
