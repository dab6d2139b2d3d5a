#include "runtime/planner/greedy_memory_planner.h"

#include <algorithm>

namespace edgemtl {

Result<int> GreedyMemoryPlanner::add_buffer(size_t size, int first_use, int last_use) {
  if (first_use > last_use)
    return Status::error(Error::kInvalidArgument, "buffer lifetime [%d, %d] is empty", first_use, last_use);
  if (size > SIZE_MAX - alignment_) return Status::error(Error::kOutOfMemory, "buffer of %zu bytes is too large", size);
  const size_t rounded = (size + alignment_ - 1) / alignment_ * alignment_;
  buffers_.push_back(Buffer{rounded, first_use, last_use, 0});
  return static_cast<int>(buffers_.size() - 1);
}

Status GreedyMemoryPlanner::plan() {
  // Step 1: placement order, largest first.
  std::vector<int> order(buffers_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    const Buffer& x = buffers_[static_cast<size_t>(a)];
    const Buffer& y = buffers_[static_cast<size_t>(b)];
    if (x.size != y.size) return x.size > y.size;
    if (x.first_use != y.first_use) return x.first_use < y.first_use;
    return a < b;
  });

  std::vector<int> placed;       // ids placed so far
  std::vector<int> conflicting;  // reused per buffer
  total_size_ = 0;
  for (int id : order) {
    Buffer& buffer = buffers_[static_cast<size_t>(id)];
    // Step 2: placed buffers live at the same time, by offset.
    conflicting.clear();
    for (int other_id : placed) {
      const Buffer& other = buffers_[static_cast<size_t>(other_id)];
      if (other.first_use <= buffer.last_use && buffer.first_use <= other.last_use) conflicting.push_back(other_id);
    }
    std::sort(conflicting.begin(), conflicting.end(), [&](int a, int b) {
      return buffers_[static_cast<size_t>(a)].offset < buffers_[static_cast<size_t>(b)].offset;
    });
    // Step 3: the first gap that fits. `candidate` only moves forward, past
    // the end of each conflicting buffer that overlaps it.
    size_t candidate = 0;
    for (int other_id : conflicting) {
      const Buffer& other = buffers_[static_cast<size_t>(other_id)];
      if (other.offset >= candidate + buffer.size) break;  // the gap before `other` fits
      candidate = std::max(candidate, other.offset + other.size);
    }
    buffer.offset = candidate;  // step 4: offsets and sizes are multiples of the alignment
    total_size_ = std::max(total_size_, candidate + buffer.size);
    placed.push_back(id);
  }
  return Status::ok();
}

void GreedyMemoryPlanner::print_plan(FILE* out) const {
  std::fprintf(out, "%6s %7s %7s %12s %12s\n", "buffer", "first", "last", "offset", "size");
  for (size_t i = 0; i < buffers_.size(); ++i) {
    const Buffer& b = buffers_[i];
    std::fprintf(out, "%6zu %7d %7d %12zu %12zu\n", i, b.first_use, b.last_use, b.offset, b.size);
  }
  std::fprintf(out, "arena: %zu bytes\n", total_size_);
}

}  // namespace edgemtl
