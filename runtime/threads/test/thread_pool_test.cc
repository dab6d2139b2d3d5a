// ThreadPool: every task runs exactly once per call, whoever runs it, over
// many back-to-back calls (late workers of one call must claim nothing of the
// next), and the split rule of task_count.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "runtime/threads/thread_pool.h"

namespace edgemtl {
namespace {

struct Counts {
  std::vector<std::atomic<int>> runs;
  explicit Counts(size_t n) : runs(n) {}
};

void count_task(void* context, size_t index) {
  static_cast<Counts*>(context)->runs[index].fetch_add(1, std::memory_order_relaxed);
}

TEST_CASE("ThreadPool runs every task of every call exactly once") {
  for (int threads : {1, 2, 3, 5}) {
    CAPTURE(threads);
    Result<std::unique_ptr<ThreadPool>> pool = ThreadPool::create(threads);
    REQUIRE(pool.ok());
    CHECK((*pool)->threads() == static_cast<size_t>(threads));
    // Back-to-back calls of varying sizes (0, 1, fewer and more tasks than
    // threads): a worker still finishing its spin or waking late for call k
    // would run a task twice, or one of call k + 1, if claims leaked.
    for (size_t call = 0; call < 3000; ++call) {
      const size_t count = call % 13;
      Counts counts(count);
      (*pool)->parallel_for(count, count_task, &counts);
      for (size_t i = 0; i < count; ++i) REQUIRE(counts.runs[i].load() == 1);
    }
  }
}

TEST_CASE("ThreadPool lets sleeping workers wake for a later call") {
  Result<std::unique_ptr<ThreadPool>> pool = ThreadPool::create(3);
  REQUIRE(pool.ok());
  for (int call = 0; call < 5; ++call) {
    // Longer than the bounded spin: the workers are asleep when the call comes.
    std::this_thread::sleep_for(std::chrono::microseconds(3 * ThreadPool::kSpinMicroseconds));
    Counts counts(64);
    (*pool)->parallel_for(64, count_task, &counts);
    for (size_t i = 0; i < 64; ++i) REQUIRE(counts.runs[i].load() == 1);
  }
}

TEST_CASE("parallel_for without a pool runs the tasks in order on the caller") {
  std::vector<size_t> order;
  parallel_for(nullptr, 4, [](void* context, size_t i) { static_cast<std::vector<size_t>*>(context)->push_back(i); },
               &order);
  CHECK(order == std::vector<size_t>{0, 1, 2, 3});
}

TEST_CASE("task_count: about two tasks per thread, none too small to be worth a wake-up") {
  Result<std::unique_ptr<ThreadPool>> one = ThreadPool::create(1), two = ThreadPool::create(2);
  REQUIRE(one.ok());
  REQUIRE(two.ok());
  const size_t min = kMinTaskMultiplyAdds;
  const size_t outputs = 1;  // far more work per output than kMinMultiplyAddsPerOutput
  CHECK((*one)->task_count(1000, min, outputs) == 1);
  CHECK((*two)->task_count(1000, min, outputs) == 4);
  CHECK((*two)->task_count(3, min, outputs) == 3);         // at most one per block
  CHECK((*two)->task_count(1000, min / 400, outputs) == 2);  // 2.5 minimum tasks of work
  CHECK((*two)->task_count(1000, min / 2000, outputs) == 1);
  CHECK((*two)->task_count(1, 100 * min, outputs) == 1);
  CHECK((*two)->task_count(0, min, outputs) == 1);
}

TEST_CASE("task_count: no split of work too light per output element (its output would cross cores)") {
  Result<std::unique_ptr<ThreadPool>> two = ThreadPool::create(2);
  REQUIRE(two.ok());
  // A block of 8 rows x 2048 columns: f32 K = 116 splits, int8 K = 116 (a quarter) does not.
  const size_t outputs = 8 * 2048;
  CHECK((*two)->task_count(1000, outputs * 116, outputs) == 4);
  CHECK((*two)->task_count(1000, outputs * 116 / 4, outputs) == 1);
  CHECK((*two)->task_count(1000, outputs * kMinMultiplyAddsPerOutput, outputs) == 4);
  CHECK((*two)->task_count(1000, outputs * kMinMultiplyAddsPerOutput - 1, outputs) == 1);
  // kSplitAnything splits it anyway.
  Result<std::unique_ptr<ThreadPool>> any = ThreadPool::create(2, kSplitAnything);
  REQUIRE(any.ok());
  CHECK((*any)->task_count(1000, 1, outputs) == 4);
  CHECK((*any)->task_count(3, 1, outputs) == 3);
}

TEST_CASE("ThreadPool refuses an absurd thread count") {
  CHECK(ThreadPool::create(0).status().code() == Error::kInvalidArgument);
  CHECK(ThreadPool::create(100000).status().code() == Error::kInvalidArgument);
}

}  // namespace
}  // namespace edgemtl
