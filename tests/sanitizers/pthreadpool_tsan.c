/* TSan model of pthreadpool's hand-off, preloaded by scripts/test_sanitizers.sh
 * (tsan suite) in front of Debian's uninstrumented libpthreadpool.
 *
 * pthreadpool_parallelize_* publishes the task to its workers and waits for
 * them with atomics and futexes inside the library, which TSan cannot see:
 * without this, every edgemtl task run by a worker (the int8 VNNI kernel's
 * quantize_task and gemm_task) is reported as racing with the caller that
 * prepared its arguments, although the library orders them. These wrappers
 * state exactly that order and nothing more: the caller releases before the
 * call and acquires after it; each task acquires the caller's release at its
 * start and releases at its end. Tasks of different workers are not ordered
 * with each other, so a real race between two tasks is still reported.
 * Only the entry points edgemtl itself calls are wrapped. Built without
 * -fsanitize: the TSan hooks are weak, so in a process without TSan (the
 * host converter, a shell run by a test) the wrappers only pass through. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthreadpool.h>
#include <stdio.h>
#include <stdlib.h>

/* From <sanitizer/tsan_interface.h>, weak: null without TSan. */
void __tsan_acquire(void* address) __attribute__((weak));
void __tsan_release(void* address) __attribute__((weak));
#define ACQUIRE(address) \
  if (__tsan_acquire) __tsan_acquire(address)
#define RELEASE(address) \
  if (__tsan_release) __tsan_release(address)

struct handoff {
  void* function;
  void* context;
  char start, end; /* the two synchronisation addresses */
};

static void* real(const char* name) {
  void* function = dlsym(RTLD_NEXT, name);
  if (function == NULL) {
    fprintf(stderr, "pthreadpool_tsan: no %s\n", name);
    abort();
  }
  return function;
}

static void task_1d(void* h, size_t i) {
  struct handoff* handoff = (struct handoff*)h;
  ACQUIRE(&handoff->start);
  ((pthreadpool_task_1d_t)handoff->function)(handoff->context, i);
  RELEASE(&handoff->end);
}

static void task_2_sizes(void* h, size_t i, size_t j) {
  struct handoff* handoff = (struct handoff*)h;
  ACQUIRE(&handoff->start);
  ((pthreadpool_task_2d_t)handoff->function)(handoff->context, i, j);
  RELEASE(&handoff->end);
}

void pthreadpool_parallelize_1d(pthreadpool_t pool, pthreadpool_task_1d_t function, void* context, size_t range,
                                uint32_t flags) {
  static void (*next)(pthreadpool_t, pthreadpool_task_1d_t, void*, size_t, uint32_t);
  if (next == NULL) next = real("pthreadpool_parallelize_1d");
  struct handoff handoff = {(void*)function, context, 0, 0};
  RELEASE(&handoff.start);
  next(pool, task_1d, &handoff, range, flags);
  ACQUIRE(&handoff.end);
}

void pthreadpool_parallelize_1d_tile_1d(pthreadpool_t pool, pthreadpool_task_1d_tile_1d_t function, void* context,
                                        size_t range, size_t tile, uint32_t flags) {
  static void (*next)(pthreadpool_t, pthreadpool_task_1d_tile_1d_t, void*, size_t, size_t, uint32_t);
  if (next == NULL) next = real("pthreadpool_parallelize_1d_tile_1d");
  struct handoff handoff = {(void*)function, context, 0, 0};
  RELEASE(&handoff.start);
  next(pool, task_2_sizes, &handoff, range, tile, flags);
  ACQUIRE(&handoff.end);
}

void pthreadpool_parallelize_2d(pthreadpool_t pool, pthreadpool_task_2d_t function, void* context, size_t range_i,
                                size_t range_j, uint32_t flags) {
  static void (*next)(pthreadpool_t, pthreadpool_task_2d_t, void*, size_t, size_t, uint32_t);
  if (next == NULL) next = real("pthreadpool_parallelize_2d");
  struct handoff handoff = {(void*)function, context, 0, 0};
  RELEASE(&handoff.start);
  next(pool, task_2_sizes, &handoff, range_i, range_j, flags);
  ACQUIRE(&handoff.end);
}
