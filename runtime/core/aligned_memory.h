// 64-byte aligned heap blocks (the arena, padded constant copies); free with std::free.
#pragma once

#include <cstddef>
#include <cstdlib>

namespace edgemtl {

constexpr size_t kArenaAlignment = 64;

/// `bytes` rounded up to the alignment (at least one block); null when out of memory.
inline void* aligned_allocate(size_t bytes) {
  const size_t rounded = (bytes + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
  return std::aligned_alloc(kArenaAlignment, rounded == 0 ? kArenaAlignment : rounded);
}

}  // namespace edgemtl
