#include "runtime/kernels/gemm_panels.h"

namespace edgemtl {
namespace {

struct RowRanges {
  RowRangeFn fn;
  const void* context;
  size_t rows, rows_per_task;
};

void row_range_task(void* context, size_t task) {
  const auto* r = static_cast<const RowRanges*>(context);
  const size_t begin = task * r->rows_per_task;
  const size_t end = begin + r->rows_per_task < r->rows ? begin + r->rows_per_task : r->rows;
  if (begin < end) r->fn(r->context, begin, end);
}

}  // namespace

void parallelize_row_ranges(ThreadPool* pool, size_t rows, size_t row_block, size_t block_multiply_adds,
                            size_t columns, RowRangeFn fn, const void* context) {
  if (rows == 0) return;
  const size_t blocks = (rows + row_block - 1) / row_block;
  const size_t tasks = pool ? pool->task_count(blocks, block_multiply_adds, row_block * columns) : 1;
  if (tasks <= 1) {
    fn(context, 0, rows);
    return;
  }
  const size_t blocks_per_task = (blocks + tasks - 1) / tasks;
  RowRanges r{fn, context, rows, blocks_per_task * row_block};
  parallel_for(pool, (blocks + blocks_per_task - 1) / blocks_per_task, row_range_task, &r);
}

}  // namespace edgemtl
