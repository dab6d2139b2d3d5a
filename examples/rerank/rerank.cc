// edgemtl-rerank: the main job's demo. For each sample user it runs the user
// stage once, scores the candidates as one batch with the cached user results,
// ranks them by a combined score and prints the top items, with the time of
// each stage next to scoring the same candidates without the user cache. Then
// it simulates a few user actions: each click appends the clicked item to the
// user's history (so the user stage changes) and the same candidates are
// re-ranked from the candidate cache (set_user + rank(): the cross stage only),
// printed next to the time of a full score() of them.
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
    "  --id FEATURE      item feature printed as the item's id (default item_id)\n"
    "  --actions A       clicks simulated per user, each followed by a re-rank (default 3; 0: none)\n"
    "  --history FEATURE the user's ID_LIST feature a click appends to (default history)\n";

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

// Appends `item` to a padded id list (padding 0 at the end): into the first
// padding slot, or, when full, dropping the oldest (first) id.
void append_to_history(nlohmann::json& history, const nlohmann::json& item) {
  for (nlohmann::json& slot : history)
    if (slot == 0) {
      slot = item;
      return;
    }
  if (history.empty()) return;
  history.erase(history.begin());
  history.push_back(item);
}

// The candidates of `request` go into the candidate cache once; each action
// clicks an item near the top (the one at rank 2, then 3, ...), appends it to
// the user's history and re-ranks: set_user + rank(), timed next to
// set_user + score() of the same candidates (which must give the same bits).
void simulate_actions(edgemtl::Session& session, const edgemtl::requests::Request& request, size_t actions,
                      size_t repeat, size_t top, const std::string& id_feature, const std::string& history_feature,
                      const std::vector<size_t>& task_index, const std::vector<edgemtl::rerank::TaskWeight>& weights,
                      std::vector<double>* rerank_times, std::vector<double>* full_times) {
  const edgemtl::Model& model = session.model();
  const size_t n = request.items.size(), tasks = model.num_tasks();
  std::string error;
  edgemtl::requests::FeatureBatch items(model, edgemtl::Side::kItem);
  for (const nlohmann::json& item : request.items)
    if (!items.append_row(item, &request.user, &error)) fail(error);
  Clock::time_point start = Clock::now();
  edgemtl::Status status = session.set_candidates(items.inputs(), n);
  const double candidates_ms = milliseconds_since(start);
  if (!status.is_ok()) fail(status.message());
  std::printf("  candidate cache: %zu candidates, item stage once in %.3f ms (%zu bytes reserved for max_items)\n", n,
              candidates_ms, session.candidate_cache_bytes());

  nlohmann::json user = request.user;
  auto order_of = [&](edgemtl::Span<const float> scores) {
    std::vector<double> combined(n);
    for (size_t i = 0; i < n; ++i) combined[i] = edgemtl::rerank::combined_score(scores.data() + i * tasks, task_index, weights);
    return edgemtl::rerank::rank_by(combined);
  };
  auto id_of = [&](size_t i) {
    return request.items[i].contains(id_feature) ? request.items[i][id_feature].dump() : std::to_string(i + 1);
  };
  edgemtl::requests::FeatureBatch user_batch(model, edgemtl::Side::kUser);
  auto load_user = [&] {
    user_batch.clear();
    if (!user_batch.append_row(user, nullptr, &error)) fail(error);
  };
  load_user();
  if (!session.set_user(user_batch.inputs()).is_ok()) fail("set_user failed");
  auto first = session.rank();
  if (!first.ok()) fail(first.status().message());
  std::vector<size_t> order = order_of(*first);
  for (size_t action = 1; action <= actions; ++action) {
    const size_t clicked = order[std::min(action, n - 1)];
    append_to_history(user[history_feature], request.items[clicked][id_feature]);
    load_user();
    std::vector<double> rerank_ms, full_ms;
    std::vector<float> ranked;
    bool identical = true;
    for (size_t r = 0; r < repeat; ++r) {
      start = Clock::now();
      status = session.set_user(user_batch.inputs());
      auto scores = status.is_ok() ? session.rank() : edgemtl::Result<edgemtl::Span<const float>>(status);
      rerank_ms.push_back(milliseconds_since(start));
      if (!scores.ok()) fail(scores.status().message());
      ranked.assign(scores->begin(), scores->end());
      start = Clock::now();
      status = session.set_user(user_batch.inputs());
      auto full = status.is_ok() ? session.score(items.inputs(), n) : edgemtl::Result<edgemtl::Span<const float>>(status);
      full_ms.push_back(milliseconds_since(start));
      if (!full.ok()) fail(full.status().message());
      identical &= std::memcmp(full->data(), ranked.data(), ranked.size() * sizeof(float)) == 0;
    }
    if (!identical) fail("rank() differs from score() of the same candidates");
    std::vector<size_t> new_order = order_of(edgemtl::Span<const float>(ranked.data(), ranked.size()));
    std::vector<size_t> was(n);
    for (size_t k = 0; k < n; ++k) was[order[k]] = k + 1;
    std::printf("  action %zu: click on %s %s (rank %zu), appended to '%s'; new top:", action, id_feature.c_str(),
                id_of(clicked).c_str(), was[clicked], history_feature.c_str());
    for (size_t k = 0; k < top && k < n; ++k) {
      const size_t i = new_order[k];
      const long move = static_cast<long>(was[i]) - static_cast<long>(k + 1);
      if (move == 0) std::printf(" %s(=)", id_of(i).c_str());
      else std::printf(" %s(%s%ld)", id_of(i).c_str(), move > 0 ? "+" : "", move);
    }
    size_t moved = 0, largest = 0, largest_item = 0;
    for (size_t k = 0; k < n; ++k) {
      const size_t distance = was[new_order[k]] > k + 1 ? was[new_order[k]] - (k + 1) : (k + 1) - was[new_order[k]];
      if (distance > 0) ++moved;
      if (distance > largest) largest = distance, largest_item = new_order[k];
    }
    if (moved > 0)
      std::printf("\n            %zu of %zu candidates changed rank; largest move %zu places (%s %s)", moved, n, largest,
                  id_feature.c_str(), id_of(largest_item).c_str());
    else
      std::printf("\n            no candidate changed rank");
    const double rerank = median(rerank_ms), full = median(full_ms);
    rerank_times->push_back(rerank);
    full_times->push_back(full);
    std::printf("\n            re-rank (set_user + rank) %.3f ms vs set_user + score %.3f ms (%.2fx), scores identical\n",
                rerank, full, full / rerank);
    order = new_order;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const char* model_path = nullptr;
  const char* requests_path = nullptr;
  const char* uncached_path = nullptr;
  std::string weights_text, id_feature = "item_id", history_feature = "history";
  size_t top = 5, repeat = 30, actions = 3;
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
    else if (arg == "--actions") actions = std::strtoull(value(), nullptr, 10);
    else if (arg == "--history") history_feature = value();
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
  std::vector<double> all_user_ms, all_item_ms, all_uncached_ms, all_rerank_ms, all_full_ms;
  for (const edgemtl::requests::Request& request : requests) {
    ++user_number;
    if (!edgemtl::requests::check_request(model, request, true, &error)) fail(error);
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
    if (actions > 0) {
      if (!request.user.contains(history_feature) || !request.user[history_feature].is_array())
        fail("the user has no list feature '" + history_feature + "' for the clicks (--history)");
      simulate_actions(*cached.session, request, actions, repeat, top, id_feature, history_feature, task_index, weights,
                       &all_rerank_ms, &all_full_ms);
    }
  }
  if (user_number == 0) fail(std::string(requests_path) + " holds no request");
  double total_cached = median(all_user_ms) + median(all_item_ms);
  std::printf("\n%zu users; median per request: user stage %.3f ms, item stage %.3f ms", user_number,
              median(all_user_ms), median(all_item_ms));
  if (!all_uncached_ms.empty())
    std::printf("; without the cache %.3f ms (%.2fx)", median(all_uncached_ms), median(all_uncached_ms) / total_cached);
  std::printf("\n");
  if (!all_rerank_ms.empty())
    std::printf("%zu re-ranks after clicks; median: set_user + rank() %.3f ms, set_user + score() %.3f ms (%.2fx)\n",
                all_rerank_ms.size(), median(all_rerank_ms), median(all_full_ms),
                median(all_full_ms) / median(all_rerank_ms));
  return 0;
}
