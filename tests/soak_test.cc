// Concurrency and soak (issue 13): one Model shared by 8 threads, each with
// its own Session, scoring random valid requests; every result must be
// bitwise identical to a single-threaded run of the same request, and the
// resident memory must not grow once warm. Then a daily model update: a new
// model is loaded while sessions on the old one keep scoring; each thread
// moves to the new model between two requests, and the old model is freed
// once its last session is gone.
// EDGEMTL_SOAK_SECONDS sets the length of the soak (default 10 s; 60 for the
// long run of docs/ROBUSTNESS.md).
#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "requests/feature_batch.h"
#include "runtime/executor/session.h"
#include "tests/fixture_util.h"

namespace edgemtl::test {
namespace {

const char* kFixture = "mmoe";
constexpr int kThreads = 8;
constexpr size_t kMaxItems = 16;
constexpr size_t kRequests = 48;

double soak_seconds() {
  const char* text = std::getenv("EDGEMTL_SOAK_SECONDS");
  const double seconds = text != nullptr ? std::atof(text) : 10.0;
  return seconds > 0 ? seconds : 10.0;
}

// Resident set of this process in bytes (/proc/self/statm, second field).
long resident_bytes() {
  FILE* file = std::fopen("/proc/self/statm", "r");
  long size = 0, resident = 0;
  if (file != nullptr) {
    if (std::fscanf(file, "%ld %ld", &size, &resident) != 2) resident = 0;
    std::fclose(file);
  }
  return resident * sysconf(_SC_PAGESIZE);
}

// One random valid request (a fixture user and 1..kMaxItems of its rows), its
// feature buffers built and their spans fixed before any thread reads them.
struct Request {
  std::unique_ptr<requests::FeatureBatch> user, items;
  Span<const FeatureInput> user_inputs, item_inputs;
  size_t n = 0;
  std::vector<float> expected;  // single-threaded scores
};

struct Workload {
  std::unique_ptr<Model> model;
  bool has_user = false;
  std::vector<Request> requests;
};

Workload make_workload(const std::string& variant, const std::string& extra_args, unsigned seed) {
  Workload workload;
  const nlohmann::json meta = read_json(fixtures_dir() + "/" + kFixture + "/meta.json");
  const std::string path = convert_fixture(kFixture, variant, user_inputs_argument(meta) + extra_args);
  auto model = Model::load_file(path.c_str());
  REQUIRE_MESSAGE(model.ok(), model.status().message());
  workload.model = std::move(*model);
  const Model& m = *workload.model;
  for (size_t f = 0; f < m.num_features(); ++f) workload.has_user |= m.feature(f).side == Side::kUser;

  const std::vector<nlohmann::json> rows = read_jsonl(fixtures_dir() + "/" + kFixture + "/rows.jsonl");
  std::mt19937 random(seed);
  std::string error;
  SessionOptions options;
  options.max_items = kMaxItems;
  options.item_tile_rows = 5;  // several tiles per request
  auto session = Session::create(m, options);
  REQUIRE_MESSAGE(session.ok(), session.status().message());
  workload.requests.resize(kRequests);
  for (Request& request : workload.requests) {
    request.user = std::make_unique<requests::FeatureBatch>(m, Side::kUser);
    request.items = std::make_unique<requests::FeatureBatch>(m, Side::kItem);
    REQUIRE_MESSAGE(request.user->append_row(rows[random() % rows.size()], nullptr, &error), error);
    request.n = 1 + random() % kMaxItems;
    for (size_t i = 0; i < request.n; ++i)
      REQUIRE_MESSAGE(request.items->append_row(rows[random() % rows.size()], nullptr, &error), error);
    request.user_inputs = request.user->inputs();
    request.item_inputs = request.items->inputs();
    if (workload.has_user) REQUIRE((*session)->set_user(request.user_inputs).is_ok());
    auto scores = (*session)->score(request.item_inputs, request.n);
    REQUIRE_MESSAGE(scores.ok(), scores.status().message());
    request.expected.assign(scores->begin(), scores->end());
  }
  return workload;
}

// Scores `request` on `session`; true when the scores equal the expected ones bit for bit.
bool score_matches(Session& session, const Workload& workload, const Request& request) {
  if (workload.has_user && !session.set_user(request.user_inputs).is_ok()) return false;
  auto scores = session.score(request.item_inputs, request.n);
  return scores.ok() && scores->size() == request.expected.size() &&
         std::memcmp(scores->data(), request.expected.data(), request.expected.size() * sizeof(float)) == 0;
}

std::unique_ptr<Session> new_session(const Model& model) {
  SessionOptions options;
  options.max_items = kMaxItems;
  options.item_tile_rows = 5;
  auto session = Session::create(model, options);
  return session.ok() ? std::move(*session) : nullptr;
}

TEST_CASE("8 threads share one Model, each with its own Session: bitwise-identical scores, no RSS growth") {
  const Workload workload = make_workload("soak", "", 13);
  const double seconds = soak_seconds();
  std::atomic<long> scored{0}, mismatches{0};
  std::atomic<int> warm_threads{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      std::unique_ptr<Session> session = new_session(*workload.model);
      if (!session) {
        mismatches.fetch_add(1);
        warm_threads.fetch_add(1);
        return;
      }
      std::mt19937 random(100 + t);
      // Warm: every request once, so that every buffer has reached its size.
      for (const Request& request : workload.requests)
        if (!score_matches(*session, workload, request)) mismatches.fetch_add(1);
      warm_threads.fetch_add(1);
      long count = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (!score_matches(*session, workload, workload.requests[random() % workload.requests.size()]))
          mismatches.fetch_add(1);
        ++count;
      }
      scored.fetch_add(count);
    });
  while (warm_threads.load() < kThreads) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const long warm_rss = resident_bytes();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (std::thread& thread : threads) thread.join();
  const long end_rss = resident_bytes();
  MESSAGE("soak: " << kThreads << " threads, " << seconds << " s, " << scored.load() << " requests, RSS "
                   << warm_rss / 1024 << " KiB warm -> " << end_rss / 1024 << " KiB at the end");
  CHECK(mismatches.load() == 0);
  CHECK(scored.load() > kThreads);
  // Warm sessions allocate nothing: a few pages of slack, no steady growth.
  CHECK(end_rss - warm_rss < 4 * 1024 * 1024);
}

TEST_CASE("a daily model update: a new Model is loaded while sessions keep scoring on the old one") {
  auto old_workload = std::make_unique<Workload>(make_workload("update_old", "", 21));
  // The new model: the same fixture converted again as fp16 (a new file with other scores).
  const Workload new_workload = make_workload("update_new", " --quantize fp16", 22);
  std::atomic<const Workload*> current{old_workload.get()};
  std::atomic<long> old_scored{0}, new_scored{0}, mismatches{0};
  std::atomic<int> on_new_model{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      const Workload* workload = current.load();
      std::unique_ptr<Session> session = new_session(*workload->model);
      std::mt19937 random(200 + t);
      while (!stop.load()) {
        // Between two requests: move to the model the app published last,
        // dropping the session on the old one.
        const Workload* latest = current.load();
        if (latest != workload) {
          session = new_session(*latest->model);
          workload = latest;
          on_new_model.fetch_add(1);
        }
        if (!session || !score_matches(*session, *workload, workload->requests[random() % workload->requests.size()]))
          mismatches.fetch_add(1);
        (workload == &new_workload ? new_scored : old_scored).fetch_add(1);
      }
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  current = &new_workload;  // the app publishes the new model ...
  while (on_new_model.load() < 4) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const long old_total = old_scored.load();
  old_workload.reset();  // ... and frees the old one once no session uses it
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop = true;
  for (std::thread& thread : threads) thread.join();
  MESSAGE("update: " << old_total << " requests on the old model, " << new_scored.load() << " on the new one");
  CHECK(mismatches.load() == 0);
  CHECK(old_total > 0);
  CHECK(new_scored.load() > 0);
  CHECK(old_scored.load() == old_total);  // nothing scored the freed model
}

}  // namespace
}  // namespace edgemtl::test
