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

void parallelize_row_ranges(pthreadpool_t threadpool, size_t rows, size_t row_block, RowRangeFn fn,
                            const void* context) {
  if (rows == 0) return;
  const size_t threads = threadpool ? pthreadpool_get_threads_count(threadpool) : 1;
  const size_t blocks = (rows + row_block - 1) / row_block;
  if (threads <= 1 || blocks <= 1) {
    fn(context, 0, rows);
    return;
  }
  const size_t blocks_per_task = (blocks + threads - 1) / threads;
  RowRanges r{fn, context, rows, blocks_per_task * row_block};
  const size_t tasks = (blocks + blocks_per_task - 1) / blocks_per_task;
  pthreadpool_parallelize_1d(threadpool, row_range_task, &r, tasks, 0);
}

}  // namespace edgemtl
