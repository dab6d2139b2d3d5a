// GreedyMemoryPlanner: the largest buffers first, each at the lowest offset
// that does not collide with an already placed buffer live at the same time.
#pragma once

#include <vector>

#include "runtime/planner/memory_planner.h"

namespace edgemtl {

/// Greedy by size, in the manner of TensorFlow Lite Micro's planner:
///  1. sort the buffers by size, largest first (ties: earlier first use, then id);
///  2. for each buffer, collect the already placed buffers whose lifetimes
///     intersect its own, ordered by offset;
///  3. walk those in offset order and take the first gap (starting at 0) big
///     enough for the buffer; failing that, place it after the last of them;
///  4. every offset is a multiple of `alignment` (64 by default, the cache line
///     and what SIMD kernels like), and every size is rounded up to it.
/// Not optimal, but close on the chain-like graphs of recommendation models,
/// and O(n^2) in the number of buffers, done once per Session.
class GreedyMemoryPlanner final : public MemoryPlanner {
 public:
  explicit GreedyMemoryPlanner(size_t alignment = 64) : alignment_(alignment) {}

  Result<int> add_buffer(size_t size, int first_use, int last_use) override;
  Status plan() override;
  size_t offset(int id) const override { return buffers_[static_cast<size_t>(id)].offset; }
  size_t total_size() const override { return total_size_; }
  void print_plan(FILE* out) const override;

  size_t num_buffers() const { return buffers_.size(); }

 private:
  struct Buffer {
    size_t size;  // rounded up to the alignment
    int first_use;
    int last_use;
    size_t offset;
  };
  size_t alignment_;
  std::vector<Buffer> buffers_;
  size_t total_size_ = 0;
};

}  // namespace edgemtl
