// MemoryPlanner: places buffers with known lifetimes in one arena.
#pragma once

#include <cstddef>
#include <cstdio>

#include "runtime/core/result.h"

namespace edgemtl {

/// Lifetimes are inclusive ranges of execution steps: a buffer is live from
/// `first_use` (the step that writes it) to `last_use` (the last step that
/// reads it). Two buffers whose ranges intersect never share bytes; others may.
class MemoryPlanner {
 public:
  virtual ~MemoryPlanner() = default;

  /// Adds a buffer of `size` bytes; returns its id (0, 1, 2, ... in call order).
  /// Fails with kInvalidArgument when first_use > last_use.
  virtual Result<int> add_buffer(size_t size, int first_use, int last_use) = 0;
  /// Computes the placement. Call after the last add_buffer; may be called again.
  virtual Status plan() = 0;
  /// Byte offset of buffer `id` in the arena (after plan()).
  virtual size_t offset(int id) const = 0;
  /// Arena bytes needed by the plan (after plan()).
  virtual size_t total_size() const = 0;
  /// Prints one line per buffer (id, lifetime, offset, size) and the total.
  virtual void print_plan(FILE* out) const = 0;
};

}  // namespace edgemtl
