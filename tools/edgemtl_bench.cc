// edgemtl-bench: latency and throughput of a model on generated requests, in
// the spirit of TFLite's benchmark_model. Inputs come from the model's own
// feature specs: ids within their tables, padded id lists of random length,
// dense values drawn from N(0, 1). One user per request, N items.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "runtime/executor/session.h"

namespace {

constexpr const char* kUsage =
    "usage: edgemtl-bench MODEL.emtl [options]\n"
    "  --items N          candidates per request (default 500)\n"
    "  --threads T        worker threads (default 1)\n"
    "  --warmup K         untimed requests first (default 5)\n"
    "  --runs R           timed requests (default: as many as fit in --min-seconds)\n"
    "  --min-seconds S    time budget for the timed requests (default 2)\n"
    "  --seed S           input generator seed (default 1)\n"
    "  --json             print one JSON object instead of the text report\n";

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

[[noreturn]] void fail(const char* what, const edgemtl::Status& status) {
  std::fprintf(stderr, "edgemtl-bench: %s: %s\n", what, status.message());
  std::exit(1);
}

// Generated values of every feature of one side for `rows` rows.
struct GeneratedBatch {
  std::vector<std::vector<int64_t>> ids;
  std::vector<std::vector<float>> values;
  std::vector<edgemtl::FeatureInput> inputs;
};

GeneratedBatch generate(const edgemtl::Model& model, edgemtl::Side side, size_t rows, std::mt19937_64& random) {
  GeneratedBatch batch;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (size_t f = 0; f < model.num_features(); ++f) {
    edgemtl::FeatureInfo info = model.feature(f);
    if (info.side != side) continue;
    const size_t width = static_cast<size_t>(info.width);
    edgemtl::FeatureInput input;
    input.feature = static_cast<int32_t>(f);
    input.count = rows * width;
    if (info.kind == edgemtl::FeatureKind::kDense) {
      batch.values.emplace_back(rows * width);
      for (float& v : batch.values.back()) v = normal(random);
    } else {
      batch.ids.emplace_back(rows * width, info.padding_id);
      std::vector<int64_t>& ids = batch.ids.back();
      const uint64_t table = static_cast<uint64_t>(std::max<int64_t>(1, info.table_size));
      for (size_t r = 0; r < rows; ++r) {
        // Padded lists hold a random number of real ids, then padding.
        size_t length = info.kind == edgemtl::FeatureKind::kIdList ? random() % (width + 1) : width;
        for (size_t i = 0; i < length; ++i) ids[r * width + i] = static_cast<int64_t>(random() % table);
      }
    }
    batch.inputs.push_back(input);
  }
  // Pointers last: the vectors above no longer move.
  size_t next_ids = 0, next_values = 0;
  for (edgemtl::FeatureInput& input : batch.inputs) {
    if (model.feature(static_cast<size_t>(input.feature)).kind == edgemtl::FeatureKind::kDense)
      input.values = batch.values[next_values++].data();
    else
      input.ids = batch.ids[next_ids++].data();
  }
  return batch;
}

double percentile(std::vector<double> sorted, double p) {
  std::sort(sorted.begin(), sorted.end());
  if (sorted.empty()) return 0.0;
  size_t index = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size()))) - (p > 0 ? 1 : 0);
  return sorted[std::min(index, sorted.size() - 1)];
}

long peak_rss_kb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  const char* path = nullptr;
  size_t items = 500, warmup = 5, runs = 0;
  double min_seconds = 2.0;
  int threads = 1;
  uint64_t seed = 1;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "edgemtl-bench: %s needs a value\n%s", arg.c_str(), kUsage);
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--items") items = std::strtoull(value(), nullptr, 10);
    else if (arg == "--threads") threads = std::atoi(value());
    else if (arg == "--warmup") warmup = std::strtoull(value(), nullptr, 10);
    else if (arg == "--runs") runs = std::strtoull(value(), nullptr, 10);
    else if (arg == "--min-seconds") min_seconds = std::atof(value());
    else if (arg == "--seed") seed = std::strtoull(value(), nullptr, 10);
    else if (arg == "--json") json = true;
    else if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (path == nullptr && arg[0] != '-') path = argv[i];
    else {
      std::fprintf(stderr, "edgemtl-bench: unexpected argument %s\n%s", arg.c_str(), kUsage);
      return 2;
    }
  }
  if (path == nullptr || items == 0 || threads < 1) {
    std::fputs(kUsage, stderr);
    return 2;
  }

  Clock::time_point start = Clock::now();
  auto model = edgemtl::Model::load_file(path);
  double load_ms = ms_since(start);
  if (!model.ok()) fail(path, model.status());
  edgemtl::SessionOptions options;
  options.max_items = items;
  options.threads = threads;
  start = Clock::now();
  auto session = edgemtl::Session::create(**model, options);
  double session_ms = ms_since(start);
  if (!session.ok()) fail("session", session.status());

  // A small pool of distinct requests, used round-robin, so caches see varied ids.
  std::mt19937_64 random(seed);
  constexpr size_t kPool = 8;
  std::vector<GeneratedBatch> users, candidates;
  for (size_t r = 0; r < kPool; ++r) {
    users.push_back(generate(**model, edgemtl::Side::kUser, 1, random));
    candidates.push_back(generate(**model, edgemtl::Side::kItem, items, random));
  }
  auto request = [&](size_t r, double* user_ms, double* item_ms) {
    const GeneratedBatch& user = users[r % kPool];
    const GeneratedBatch& batch = candidates[r % kPool];
    Clock::time_point t0 = Clock::now();
    edgemtl::Status status = (*session)->set_user({user.inputs.data(), user.inputs.size()});
    if (!status.is_ok()) fail("set_user", status);
    Clock::time_point t1 = Clock::now();
    auto scores = (*session)->score({batch.inputs.data(), batch.inputs.size()}, items);
    if (!scores.ok()) fail("score", scores.status());
    *user_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    *item_ms = ms_since(t1);
  };

  double first_user = 0, first_item = 0;
  request(0, &first_user, &first_item);
  double user_ms, item_ms;
  for (size_t r = 0; r < warmup; ++r) request(r + 1, &user_ms, &item_ms);
  std::vector<double> totals, user_times, item_times;
  Clock::time_point budget = Clock::now();
  for (size_t r = 0; runs > 0 ? r < runs : (r < 3 || ms_since(budget) < min_seconds * 1000.0); ++r) {
    request(r, &user_ms, &item_ms);
    user_times.push_back(user_ms);
    item_times.push_back(item_ms);
    totals.push_back(user_ms + item_ms);
  }
  const double p50 = percentile(totals, 50);
  const double items_per_s = p50 > 0 ? static_cast<double>(items) / (p50 / 1000.0) : 0.0;

  if (json) {
    std::printf(
        "{\"model\": \"%s\", \"items\": %zu, \"threads\": %d, \"runs\": %zu, \"load_ms\": %.4f, \"session_ms\": %.4f, "
        "\"first_ms\": %.4f, \"min_ms\": %.4f, \"p50_ms\": %.4f, \"p90_ms\": %.4f, \"p99_ms\": %.4f, "
        "\"user_stage_p50_ms\": %.4f, \"item_stage_p50_ms\": %.4f, \"items_per_s\": %.1f, \"arena_bytes\": %zu, "
        "\"packed_weight_bytes\": %zu, \"peak_rss_kb\": %ld}\n",
        path, items, threads, totals.size(), load_ms, session_ms, first_user + first_item, percentile(totals, 0), p50,
        percentile(totals, 90), percentile(totals, 99), percentile(user_times, 50), percentile(item_times, 50),
        items_per_s, (*session)->arena_bytes(), (*session)->packed_weight_bytes(), peak_rss_kb());
    return 0;
  }
  std::printf("model %s: %zu bytes, %zu features, %zu tasks\n", path, (*model)->size(), (*model)->num_features(),
              (*model)->num_tasks());
  std::printf("items per request %zu, threads %d, %zu timed requests\n", items, threads, totals.size());
  std::printf("load            %10.3f ms\n", load_ms);
  std::printf("session create  %10.3f ms\n", session_ms);
  std::printf("first request   %10.3f ms (user %.3f + items %.3f)\n", first_user + first_item, first_user, first_item);
  std::printf("latency         min %.3f  p50 %.3f  p90 %.3f  p99 %.3f ms\n", percentile(totals, 0), p50,
              percentile(totals, 90), percentile(totals, 99));
  std::printf("stages (p50)    user %.3f ms, items %.3f ms\n", percentile(user_times, 50), percentile(item_times, 50));
  std::printf("throughput      %.0f items/s\n", items_per_s);
  std::printf("memory          arena %zu bytes, packed weights %zu bytes, peak RSS %ld KB\n", (*session)->arena_bytes(),
              (*session)->packed_weight_bytes(), peak_rss_kb());
  return 0;
}
