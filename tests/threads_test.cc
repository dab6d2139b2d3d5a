// SessionOptions::threads: the pool must change neither the scores (bitwise,
// for 1, 2 and 4 threads, on every PyTorch fixture) nor the idle behaviour
// (worker threads burn no CPU while the app waits between requests).
#include <doctest/doctest.h>
#include <sys/resource.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "runtime/executor/session.h"
#include "runtime/kernels/f32_gemm.h"
#include "tests/fixture_util.h"
#include "requests/scorer.h"

namespace edgemtl::test {
namespace {

// Enough items that XNNPACK splits every fully-connected layer into many tiles.
constexpr size_t kItems = 256;

// Converts fixture `name` with the user/item split (or without when the
// fixture has no user inputs); returns the model path.
std::string convert_split(const std::string& name) {
  return convert_fixture(name, "threads", user_inputs_argument(read_json(fixtures_dir() + "/" + name + "/meta.json")));
}

// The user of the fixture's first row, and kItems item rows cycling through
// all the fixture's rows.
struct Request {
  requests::FeatureBatch user;
  requests::FeatureBatch items;
  Request(const Model& model, const std::vector<nlohmann::json>& rows) : user(model, Side::kUser), items(model, Side::kItem) {
    std::string error;
    REQUIRE_MESSAGE(user.append_row(rows[0], nullptr, &error), error);
    for (size_t i = 0; i < kItems; ++i) REQUIRE_MESSAGE(items.append_row(rows[i % rows.size()], nullptr, &error), error);
  }
};

// A Session of `threads` threads on tiles of `tile_rows` items, the user set.
std::unique_ptr<Session> session_for(const Model& model, Request& request, int threads, size_t tile_rows) {
  SessionOptions options;
  options.max_items = kItems;
  options.threads = threads;
  options.item_tile_rows = tile_rows;
  auto session = Session::create(model, options);
  REQUIRE_MESSAGE(session.ok(), session.status().message());
  bool has_user = false;
  for (size_t f = 0; f < model.num_features(); ++f) has_user |= model.feature(f).side == Side::kUser;
  if (has_user) {
    Status status = (*session)->set_user(request.user.inputs());
    REQUIRE_MESSAGE(status.is_ok(), status.message());
  }
  return std::move(*session);
}

std::vector<float> score_with_threads(const Model& model, Request& request, int threads) {
  std::unique_ptr<Session> session = session_for(model, request, threads, SessionOptions().item_tile_rows);
  auto scores = session->score(request.items.inputs(), kItems);
  REQUIRE_MESSAGE(scores.ok(), scores.status().message());
  return std::vector<float>(scores->begin(), scores->end());
}

// CPU time (user + system) of the whole process, all threads, in seconds.
double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

TEST_CASE("scores are bitwise identical with 1, 2 and 4 threads on every fixture") {
  std::vector<std::string> names = fixture_names();
  REQUIRE(names.size() >= 8);
  for (const std::string& name : names) {
    CAPTURE(name);
    auto model = Model::load_file(convert_split(name).c_str());
    REQUIRE_MESSAGE(model.ok(), model.status().message());
    Request request(**model, read_jsonl(fixtures_dir() + "/" + name + "/rows.jsonl"));
    std::vector<float> one = score_with_threads(**model, request, 1);
    REQUIRE(one.size() == kItems * (*model)->num_tasks());
    for (int threads : {2, 4}) {
      CAPTURE(threads);
      std::vector<float> many = score_with_threads(**model, request, threads);
      REQUIRE(many.size() == one.size());
      CHECK(std::memcmp(many.data(), one.data(), one.size() * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("tiles in parallel lanes: score() and rank() of many tiles bitwise equal to one thread's") {
  for (const char* name : {"mmoe", "ple2", "esmm", "missing_values"}) {
    CAPTURE(name);
    auto model = Model::load_file(convert_split(name).c_str());
    REQUIRE_MESSAGE(model.ok(), model.status().message());
    Request request(**model, read_jsonl(fixtures_dir() + "/" + name + "/rows.jsonl"));
    const std::vector<float> one = score_with_threads(**model, request, 1);
    // 16-row tiles: 16 tiles, claimed by 3 lanes in whatever order the threads run.
    std::unique_ptr<Session> session = session_for(**model, request, 3, 16);
    // Lanes share the own f32 kernels' weights; on XNNPACK (ARM) each GEMM splits its rows instead.
    CHECK(session->tile_lanes() == (F32Gemm::best_isa() != F32Isa::kNone ? 3u : 1u));
    for (int repeat = 0; repeat < 3; ++repeat) {
      auto scores = session->score(request.items.inputs(), kItems);
      REQUIRE_MESSAGE(scores.ok(), scores.status().message());
      REQUIRE(scores->size() == one.size());
      CHECK(std::memcmp(scores->data(), one.data(), one.size() * sizeof(float)) == 0);
    }
    REQUIRE(session->set_candidates(request.items.inputs(), kItems).is_ok());
    auto ranked = session->rank();
    REQUIRE_MESSAGE(ranked.ok(), ranked.status().message());
    CHECK(std::memcmp(ranked->data(), one.data(), one.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("tiles in parallel lanes: the first failing tile's error, as one thread reports it") {
  // A fixture with a dense item feature that does not accept NaN.
  for (const char* name : {"mmoe", "ple2", "esmm", "shared_bottom", "log1p_dense", "packed"}) {
    auto model = Model::load_file(convert_split(name).c_str());
    REQUIRE_MESSAGE(model.ok(), model.status().message());
    Request request(**model, read_jsonl(fixtures_dir() + "/" + name + "/rows.jsonl"));
    Span<const FeatureInput> given = request.items.inputs();
    std::vector<FeatureInput> inputs(given.begin(), given.end());
    std::vector<float> values;
    for (FeatureInput& input : inputs) {
      const FeatureInfo info = (*model)->feature(static_cast<size_t>(input.feature));
      if (info.kind != FeatureKind::kDense || info.accepts_nan) continue;
      values.assign(input.values, input.values + input.count);
      const size_t width = static_cast<size_t>(info.width);
      values[200 * width] = std::nanf("");  // in a later tile
      values[50 * width] = std::nanf("");   // the first failing tile
      input.values = values.data();
      break;
    }
    if (values.empty()) continue;
    CAPTURE(name);
    std::string messages[2];
    for (int threads : {1, 3}) {
      std::unique_ptr<Session> session = session_for(**model, request, threads, 16);
      auto scores = session->score(Span<const FeatureInput>(inputs.data(), inputs.size()), kItems);
      REQUIRE_FALSE(scores.ok());
      messages[threads == 1 ? 0 : 1] = scores.status().message();
      // The Session still scores a good request afterwards.
      CHECK(session->score(request.items.inputs(), kItems).ok());
    }
    CHECK(messages[0].find("at row 50") != std::string::npos);
    CHECK(messages[1] == messages[0]);
    return;
  }
  FAIL("no fixture with a dense item feature");
}

TEST_CASE("worker threads use no CPU while the app is idle between requests") {
  auto model = Model::load_file(convert_split("mmoe").c_str());
  REQUIRE_MESSAGE(model.ok(), model.status().message());
  Request request(**model, read_jsonl(fixtures_dir() + "/mmoe/rows.jsonl"));
  SessionOptions options;
  options.max_items = kItems;
  options.threads = 4;
  auto session = Session::create(**model, options);
  REQUIRE_MESSAGE(session.ok(), session.status().message());

  // A few requests, each followed by an idle pause; a spinning pool would burn
  // CPU for tens of milliseconds per worker after every request.
  constexpr int kRequests = 3;
  constexpr double kIdleSeconds = 0.2;
  double idle_cpu = 0;
  for (int r = 0; r < kRequests; ++r) {
    REQUIRE((*session)->set_user(request.user.inputs()).is_ok());
    REQUIRE((*session)->score(request.items.inputs(), kItems).ok());
    double before = process_cpu_seconds();
    std::this_thread::sleep_for(std::chrono::duration<double>(kIdleSeconds));
    idle_cpu += process_cpu_seconds() - before;
  }
  INFO("process CPU time over " << kRequests << " idle pauses of " << kIdleSeconds << " s: " << idle_cpu << " s");
  // Waking from sleep and the kernel's accounting cost microseconds; allow 2%.
  CHECK(idle_cpu < 0.02 * kRequests * kIdleSeconds);
}

}  // namespace
}  // namespace edgemtl::test
