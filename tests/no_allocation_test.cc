// A warm Session does no heap allocation at all: this binary replaces malloc,
// calloc, realloc, free and the aligned allocators (forwarding to glibc's
// __libc_* functions; under ASan or TSan it counts through the sanitizer's
// malloc/free hooks instead) and counts every call made, from any thread, while a
// converted PyTorch fixture scores its users, for 1 and 2 threads and without
// the user cache, in f32 and converted with --quantize int8-dynamic (its
// portable kernel in the cache-less variant, the CPU's best in the others).
// The same requests are checked against PyTorch's scores, with
// item tiles smaller than a request, so the tiled item stage and the
// cache-less mode (user stage rerun on every item row) are covered too.
#include <doctest/doctest.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "runtime/executor/session.h"
#include "tests/fixture_util.h"
#include "requests/scorer.h"

// ---- counting allocator ---------------------------------------------------------------
// Plain builds replace the allocator itself. Under ASan or TSan the sanitizer
// owns malloc (a replacement would bypass it and mix two heaps), so the same
// calls are counted through its malloc and free hooks instead: every malloc,
// calloc, realloc, aligned allocation, operator new and free reaches them.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define EDGEMTL_COUNT_WITH_SANITIZER_HOOKS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define EDGEMTL_COUNT_WITH_SANITIZER_HOOKS 1
#endif
#endif

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_calls{0};
inline void count_call() {
  if (g_counting.load(std::memory_order_relaxed)) g_calls.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

#ifdef EDGEMTL_COUNT_WITH_SANITIZER_HOOKS
// From <sanitizer/allocator_interface.h>, which gcc does not ship; both gcc's
// and clang's ASan and TSan runtimes define it.
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*, size_t),
                                                         void (*free_hook)(const volatile void*));

namespace {
void on_malloc(const volatile void*, size_t) { count_call(); }
void on_free(const volatile void*) { count_call(); }
// Installed before main, so the test cases below count from the start.
const bool g_hooks_installed = __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free) != 0;
}  // namespace
#else
extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t count, size_t size);
void* __libc_realloc(void* pointer, size_t size);
void* __libc_memalign(size_t alignment, size_t size);
void __libc_free(void* pointer);
}

namespace {
constexpr bool g_hooks_installed = true;
}  // namespace

extern "C" {
void* malloc(size_t size) {
  count_call();
  return __libc_malloc(size);
}
void* calloc(size_t count, size_t size) {
  count_call();
  return __libc_calloc(count, size);
}
void* realloc(void* pointer, size_t size) {
  count_call();
  return __libc_realloc(pointer, size);
}
void free(void* pointer) {
  if (pointer) count_call();
  __libc_free(pointer);
}
void* memalign(size_t alignment, size_t size) {
  count_call();
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(size_t alignment, size_t size) {
  count_call();
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, size_t alignment, size_t size) {
  count_call();
  if (alignment % sizeof(void*) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
  void* pointer = __libc_memalign(alignment, size);
  if (!pointer) return ENOMEM;
  *out = pointer;
  return 0;
}
}
#endif

namespace edgemtl::test {
namespace {

// One user's request of a fixture, as FeatureBatches built before counting.
struct Request {
  std::unique_ptr<requests::FeatureBatch> user, items;
  std::vector<size_t> rows;
};

TEST_CASE("the counting allocator sees allocations") {
  REQUIRE(g_hooks_installed);
  g_calls = 0;
  g_counting = true;
  // volatile: the compiler may not drop a malloc/free or new/delete pair.
  std::vector<int>* volatile sample = new std::vector<int>(100);
  void* volatile raw = std::malloc(10);
  std::free(raw);
  delete sample;
  g_counting = false;
  CHECK(g_calls.load() >= 5);  // new, vector storage, malloc, free, delete...
}

TEST_CASE("a warm Session allocates nothing in set_user, score, set_candidates and rank (PyTorch fixtures, 1 and 2 threads, no user cache)") {
  for (const std::string& name : fixture_names())
  for (const bool dynamic_int8 : {false, true}) {
    CAPTURE(name);
    CAPTURE(dynamic_int8);
    const Fixture fixture = load_fixture(name);
    const std::vector<nlohmann::json>& expected = fixture.expected;
    const std::string path =
        dynamic_int8 ? convert_fixture(name, "no_allocation.int8-dynamic",
                                       user_inputs_argument(fixture.meta) + " --quantize int8-dynamic")
                     : convert_fixture(name, "no_allocation", user_inputs_argument(fixture.meta));
    // f32: PyTorch's scores; int8-dynamic: its budget in quantized_fixtures_test.cc.
    const double tolerance = dynamic_int8 ? 0.06 : 1e-5;
    auto model = Model::load_file(path.c_str());
    REQUIRE_MESSAGE(model.ok(), model.status().message());
    const bool has_user = !fixture.meta["user_inputs"].empty();

    // One request per user of the fixture.
    std::vector<Request> requests;
    std::string error;
    for (const std::vector<size_t>& user_rows : fixture.users) {
      Request& request = requests.emplace_back();
      request.user = std::make_unique<requests::FeatureBatch>(**model, Side::kUser);
      request.items = std::make_unique<requests::FeatureBatch>(**model, Side::kItem);
      if (has_user) REQUIRE_MESSAGE(request.user->append_row(fixture.rows[user_rows[0]], nullptr, &error), error);
      for (size_t r : user_rows) REQUIRE_MESSAGE(request.items->append_row(fixture.rows[r], nullptr, &error), error);
      request.rows = user_rows;
    }
    for (Request& request : requests) {  // inputs() builds its spans once, before counting
      request.user->inputs();
      request.items->inputs();
    }

    for (int variant = 0; variant < 3; ++variant) {
      const int threads = variant == 1 ? 2 : 1;
      const bool cache_user = variant != 2;  // the last: the user stage inside every score()
      CAPTURE(threads);
      CAPTURE(cache_user);
      SessionOptions options;
      options.cache_user = cache_user;
      options.max_items = 16;
      options.item_tile_rows = 3;  // requests of up to 8 items run in several tiles
      options.threads = threads;
      options.int8_vnni = cache_user;  // the cache-less variant: the portable int8 kernels
      auto session = Session::create(**model, options);
      REQUIRE_MESSAGE(session.ok(), session.status().message());
      auto run = [&](const Request& request, std::vector<float>* out) {
        if (has_user) {
          Status status = (*session)->set_user(request.user->inputs());
          if (!status.is_ok()) return false;
        }
        auto scores = (*session)->score(request.items->inputs(), request.rows.size());
        if (!scores.ok()) return false;
        if (out) out->assign(scores->begin(), scores->end());
        return true;
      };
      for (const Request& request : requests) REQUIRE(run(request, nullptr));  // warm

      std::vector<std::vector<float>> scores(requests.size());
      for (size_t i = 0; i < requests.size(); ++i) scores[i].reserve(requests[i].rows.size() * (*model)->num_tasks());
      g_calls = 0;
      bool all_ok = true;
      g_counting = true;
      for (int repeat = 0; repeat < 3; ++repeat)
        for (const Request& request : requests) all_ok = run(request, nullptr) && all_ok;
      for (size_t i = 0; i < requests.size(); ++i) all_ok = run(requests[i], &scores[i]) && all_ok;
      g_counting = false;
      CHECK(all_ok);
      CHECK(g_calls.load() == 0);

      // The candidate cache: the first set_candidates allocates it; then
      // set_candidates, replace_candidates and set_user + rank() allocate nothing.
      const Request& page = requests[0];
      const std::vector<size_t> positions = {page.rows.size() - 1};
      requests::FeatureBatch replacement(**model, Side::kItem);
      REQUIRE_MESSAGE(replacement.append_row(fixture.rows[requests.back().rows[0]], nullptr, &error), error);
      replacement.inputs();
      auto rerank = [&](const Request& request) {
        if (has_user && !(*session)->set_user(request.user->inputs()).is_ok()) return false;
        return (*session)->rank().ok();
      };
      REQUIRE((*session)->set_candidates(page.items->inputs(), page.rows.size()).is_ok());
      for (const Request& request : requests) REQUIRE(rerank(request));  // warm
      g_calls = 0;
      g_counting = true;
      bool ranked = (*session)->set_candidates(page.items->inputs(), page.rows.size()).is_ok();
      for (int repeat = 0; repeat < 3; ++repeat)
        for (const Request& request : requests) ranked = rerank(request) && ranked;
      ranked = (*session)->replace_candidates(Span<const size_t>(positions.data(), 1), replacement.inputs()).is_ok() &&
               ranked;
      ranked = rerank(page) && ranked;
      g_counting = false;
      CHECK(ranked);
      CHECK(g_calls.load() == 0);

      for (size_t i = 0; i < requests.size(); ++i)
        for (size_t k = 0; k < requests[i].rows.size(); ++k)
          for (size_t t = 0; t < (*model)->num_tasks(); ++t) {
            const size_t row = requests[i].rows[k];
            const double want = expected[row][(*model)->task(t).name].get<double>();
            INFO("row " << row << " task " << (*model)->task(t).name);
            CHECK(close_enough(scores[i][k * (*model)->num_tasks() + t], want, tolerance));
          }
    }
  }
}

}  // namespace
}  // namespace edgemtl::test
