// What the runtime's own GEMM kernels (Int8GemmVnni, F32Gemm) share: weight
// panels of a fixed number of output columns packed once at create (the last
// panel may be half as wide), micro-tiles of a fixed number of rows, and one
// entry that runs a range of rows on the calling thread. Parallel runs split
// the rows into a few large ranges (about one per thread, rounded to the row
// block) with parallelize_row_ranges; every output element is computed by one
// micro-tile whatever the split, so results do not depend on the thread count.
#pragma once

#include <cstddef>

#include "runtime/threads/thread_pool.h"

namespace edgemtl {

/// Columns after padding `columns` to full panels of `panel` columns, the
/// last one `panel / 2` wide when that covers what is left.
inline size_t padded_panel_columns(size_t columns, size_t panel) {
  const size_t full = columns / panel * panel;
  const size_t rest = columns - full;
  return full + (rest == 0 ? 0 : rest <= panel / 2 ? panel / 2 : panel);
}

/// Width of the panel that starts at column `first` of `padded` columns.
inline size_t panel_width(size_t first, size_t padded, size_t panel) {
  return padded - first < panel ? padded - first : panel;
}

/// Runs rows [begin, end) on the calling thread.
using RowRangeFn = void (*)(const void* context, size_t begin, size_t end);

/// fn over [0, rows): inline without a pool, else as the pool's few large
/// ranges (ThreadPool::task_count: about two per thread, none too small for
/// the work; a block of `row_block` rows does `block_multiply_adds`, f32 or a
/// quarter of the int8 ones, into `row_block * columns` outputs), each a
/// multiple of `row_block` rows.
void parallelize_row_ranges(ThreadPool* pool, size_t rows, size_t row_block, size_t block_multiply_adds,
                            size_t columns, RowRangeFn fn, const void* context);

}  // namespace edgemtl
