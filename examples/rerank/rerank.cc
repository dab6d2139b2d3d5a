// edgemtl-rerank: the main job's demo. For each sample user it runs the user
// stage once, scores the candidates as one batch with the cached user results,
// ranks them by a combined score and prints the top items, with the time of
// each stage next to scoring the same candidates without the user cache.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "examples/rerank/ranking.h"
#include "runtime/executor/session.h"
#include "requests/scorer.h"

namespace {

constexpr const char* kUsage =
    "usage: edgemtl-rerank MODEL.emtl --requests FILE.jsonl [options]\n"
    "\n"
    "  --requests FILE   one user per line: {\"user\": {...}, \"items\": [{...}, ...]} (edgemtl-run's format)\n"
    "  --uncached MODEL  the same model converted without --user-inputs: its time is the time of\n"
    "                    scoring without the user cache (user features repeated on every item)\n"
    "  --weights W       combined score = prod over tasks of score^weight, e.g. ctr=1,ctcvr=1\n"
    "                    (default: every task with weight 1)\n"
    "  --top K           items to print per user (default 5)\n"
    "  --repeat R        timed repetitions per user, median reported (default 30)\n"
    "  --id FEATURE      item feature printed as the item's id (default item_id)\n";

using Clock = std::chrono::steady_clock;

double milliseconds_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0.0 : values[values.size() / 2];
}

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "edgemtl-rerank: %s\n", message.c_str());
  std::exit(1);
}

struct Loaded {
  std::unique_ptr<edgemtl::Model> model;
  std::unique_ptr<edgemtl::Session> session;
  size_t max_items = edgemtl::SessionOptions{}.max_items;
};

Loaded load(const char* path) {
  auto model = edgemtl::Model::load_file(path);
  if (!model.ok()) fail(std::string(path) + ": " + model.status().message());
  auto session = edgemtl::Session::create(**model, edgemtl::SessionOptions{});
  if (!session.ok()) fail(session.status().message());
  return {std::move(model.value()), std::move(session.value())};
}

}  // namespace

int main(int argc, char** argv) {
  const char* model_path = nullptr;
  const char* requests_path = nullptr;
  const char* uncached_path = nullptr;
  std::string weights_text, id_feature = "item_id";
  size_t top = 5, repeat = 30;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "edgemtl-rerank: %s needs a value\n%s", arg.c_str(), kUsage);
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--requests") requests_path = value();
    else if (arg == "--uncached") uncached_path = value();
    else if (arg == "--weights") weights_text = value();
    else if (arg == "--top") top = std::strtoull(value(), nullptr, 10);
    else if (arg == "--repeat") repeat = std::max<size_t>(1, std::strtoull(value(), nullptr, 10));
    else if (arg == "--id") id_feature = value();
    else if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (model_path == nullptr && arg[0] != '-') model_path = argv[i];
    else {
      std::fprintf(stderr, "edgemtl-rerank: unexpected argument %s\n%s", arg.c_str(), kUsage);
      return 2;
    }
  }
  if (model_path == nullptr || requests_path == nullptr) {
    std::fputs(kUsage, stderr);
    return 2;
  }

  Loaded cached = load(model_path);
  const edgemtl::Model& model = *cached.model;
  Loaded uncached;
  if (uncached_path != nullptr) uncached = load(uncached_path);

  std::vector<edgemtl::rerank::TaskWeight> weights;
  std::string error;
  if (weights_text.empty()) {
    for (size_t t = 0; t < model.num_tasks(); ++t) weights.push_back({model.task(t).name, 1.0});
  } else if (!edgemtl::rerank::parse_weights(weights_text, &weights, &error)) {
    fail(error);
  }
  std::vector<size_t> task_index;
  std::string formula;
  for (const auto& weight : weights) {
    int index = model.find_task(weight.task.c_str());
    if (index < 0) fail("--weights names task '" + weight.task + "', which the model does not have");
    task_index.push_back(static_cast<size_t>(index));
    char term[96];
    std::snprintf(term, sizeof(term), "%s%s^%g", formula.empty() ? "" : " * ", weight.task.c_str(), weight.weight);
    formula += term;
  }
  std::printf("model %s: %zu features, %zu tasks; ranking score = %s\n", model_path, model.num_features(),
              model.num_tasks(), formula.c_str());

  std::vector<edgemtl::requests::Request> requests;
  if (!edgemtl::requests::read_request_file(requests_path, edgemtl::requests::LineFormat::kRequests, &requests, &error))
    fail(error);
  edgemtl::requests::RequestScorer scorer(model, *cached.session, cached.max_items);
  size_t user_number = 0;
  std::vector<double> all_user_ms, all_item_ms, all_uncached_ms;
  for (const edgemtl::requests::Request& request : requests) {
    ++user_number;
    if (!edgemtl::requests::check_request(model, request, true, &error)) fail(error);
    const nlohmann::json& user_object = request.user;
    const std::vector<nlohmann::json>& item_objects = request.items;
    const size_t n = item_objects.size();

    // Cached path: the user stage once, then the candidates as one batch.
    std::vector<double> user_ms, item_ms;
    std::vector<float> scores;
    if (!scorer.load(request, 0, n, &error)) fail(error);
    for (size_t r = 0; r < repeat; ++r) {
      Clock::time_point start = Clock::now();
      edgemtl::Status status = scorer.run_user();
      user_ms.push_back(milliseconds_since(start));
      if (!status.is_ok()) fail(status.message());
      start = Clock::now();
      auto result = scorer.run_items();
      item_ms.push_back(milliseconds_since(start));
      if (!result.ok()) fail(result.status().message());
      scores.assign(result->begin(), result->end());
    }

    std::vector<double> combined(n);
    for (size_t i = 0; i < n; ++i)
      combined[i] = edgemtl::rerank::combined_score(scores.data() + i * model.num_tasks(), task_index, weights);
    std::vector<size_t> order = edgemtl::rerank::rank_by(combined);

    std::printf("\nuser %zu: %zu candidates\n", user_number, n);
    std::printf("  %4s %8s %9s", "rank", id_feature.c_str(), "was");
    for (size_t t = 0; t < model.num_tasks(); ++t) std::printf(" %10s", model.task(t).name);
    std::printf(" %12s\n", "score");
    for (size_t k = 0; k < top && k < n; ++k) {
      size_t i = order[k];
      const nlohmann::json& id = item_objects[i].contains(id_feature) ? item_objects[i][id_feature] : nlohmann::json(i);
      std::printf("  %4zu %8s %9zu", k + 1, id.dump().c_str(), i + 1);
      for (size_t t = 0; t < model.num_tasks(); ++t) std::printf(" %10.5f", scores[i * model.num_tasks() + t]);
      std::printf(" %12.6g\n", combined[i]);
    }
    double user_median = median(user_ms), item_median = median(item_ms);
    all_user_ms.push_back(user_median);
    all_item_ms.push_back(item_median);
    std::printf("  time: user stage %.3f ms + item stage %.3f ms = %.3f ms", user_median, item_median,
                user_median + item_median);

    if (uncached_path != nullptr) {
      // Without the cache every item row carries the user's features too.
      edgemtl::requests::RequestScorer rows(*uncached.model, *uncached.session, uncached.max_items);
      if (!rows.load(request, 0, n, &error)) fail(error);
      std::vector<double> uncached_ms;
      for (size_t r = 0; r < repeat; ++r) {
        Clock::time_point start = Clock::now();
        auto result = rows.run_items();
        uncached_ms.push_back(milliseconds_since(start));
        if (!result.ok()) fail(result.status().message());
      }
      double uncached_median = median(uncached_ms);
      all_uncached_ms.push_back(uncached_median);
      std::printf("; without the user cache %.3f ms (%.2fx)", uncached_median,
                  uncached_median / (user_median + item_median));
    }
    std::printf("  [median of %zu]\n", repeat);
  }
  if (user_number == 0) fail(std::string(requests_path) + " holds no request");
  double total_cached = median(all_user_ms) + median(all_item_ms);
  std::printf("\n%zu users; median per request: user stage %.3f ms, item stage %.3f ms", user_number,
              median(all_user_ms), median(all_item_ms));
  if (!all_uncached_ms.empty())
    std::printf("; without the cache %.3f ms (%.2fx)", median(all_uncached_ms), median(all_uncached_ms) / total_cached);
  std::printf("\n");
  return 0;
}
