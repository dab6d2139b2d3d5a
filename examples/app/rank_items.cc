// rank_items (C++ API): loads a model, sets one user, scores candidate items
// and prints them best first. Built only against the installed package
// (find_package(edgemtl)). The user and items are synthetic, the same rule as
// rank_items.c, so the two programs print the same ranking.
//   rank_items MODEL.emtl [NUM_ITEMS]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <vector>

#include "runtime/executor/session.h"

namespace {

// Synthetic value k of feature f for row r: a valid id, or a small float.
int64_t synthetic_id(const edgemtl::FeatureInfo& info, size_t f, size_t r, int64_t k) {
  return static_cast<int64_t>((r * 7 + static_cast<size_t>(k) * 3 + f + 1) % static_cast<size_t>(info.table_size));
}
float synthetic_value(size_t f, size_t r, int64_t k) {
  return 0.1f * static_cast<float>((r + static_cast<size_t>(k) + f) % 10);
}

// Column storage for every feature of one side, `rows` rows.
struct Features {
  std::vector<std::vector<int64_t>> ids;
  std::vector<std::vector<float>> values;
  std::vector<edgemtl::FeatureInput> inputs;
  edgemtl::Span<const edgemtl::FeatureInput> span() const { return {inputs.data(), inputs.size()}; }

  Features(const edgemtl::Model& model, edgemtl::Side side, size_t first_row, size_t rows) {
    for (size_t f = 0; f < model.num_features(); ++f) {
      const edgemtl::FeatureInfo info = model.feature(f);
      if (info.side != side) continue;
      ids.emplace_back();
      values.emplace_back();
      for (size_t r = first_row; r < first_row + rows; ++r)
        for (int64_t k = 0; k < info.width; ++k) {
          if (info.kind == edgemtl::FeatureKind::kDense) values.back().push_back(synthetic_value(f, r, k));
          else ids.back().push_back(synthetic_id(info, f, r, k));
        }
      edgemtl::FeatureInput input;
      input.feature = static_cast<int32_t>(f);
      input.count = rows * static_cast<size_t>(info.width);
      inputs.push_back(input);
    }
    // Pointers only once the vectors stop growing.
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!ids[i].empty()) inputs[i].ids = ids[i].data();
      if (!values[i].empty()) inputs[i].values = values[i].data();
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL.emtl [NUM_ITEMS]\n", argv[0]);
    return 2;
  }
  const size_t num_items = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 8;
  if (num_items < 1 || num_items > 4096) {
    std::fprintf(stderr, "NUM_ITEMS must be in [1, 4096]\n");
    return 2;
  }

  auto model = edgemtl::Model::load_file(argv[1]);
  if (!model.ok()) {
    std::fprintf(stderr, "cannot load %s: %s\n", argv[1], model.status().message());
    return 1;
  }
  edgemtl::SessionOptions options;
  options.max_items = num_items;
  auto session = edgemtl::Session::create(**model, options);
  if (!session.ok()) {
    std::fprintf(stderr, "cannot create a session: %s\n", session.status().message());
    return 1;
  }

  Features user(**model, edgemtl::Side::kUser, 0, 1);
  if (!user.inputs.empty()) {
    edgemtl::Status status = (*session)->set_user(user.span());
    if (!status.is_ok()) {
      std::fprintf(stderr, "set_user: %s\n", status.message());
      return 1;
    }
  }
  Features items(**model, edgemtl::Side::kItem, 1, num_items);
  auto scores = (*session)->score(items.span(), num_items);
  if (!scores.ok()) {
    std::fprintf(stderr, "score: %s\n", scores.status().message());
    return 1;
  }

  // Ranking score: the product of the probability tasks (the first task when
  // there are none).
  const size_t num_tasks = (*model)->num_tasks();
  std::vector<double> ranking(num_items, 1.0);
  for (size_t i = 0; i < num_items; ++i) {
    bool any = false;
    for (size_t t = 0; t < num_tasks; ++t)
      if ((*model)->task(t).kind == edgemtl::TaskKind::kProbability) {
        ranking[i] *= (*scores)[i * num_tasks + t];
        any = true;
      }
    if (!any) ranking[i] = (*scores)[i * num_tasks];
  }
  std::vector<size_t> order(num_items);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ranking[a] > ranking[b]; });

  for (size_t rank = 0; rank < num_items; ++rank) {
    const size_t i = order[rank];
    std::printf("%zu item %zu score %.6f", rank + 1, i, ranking[i]);
    for (size_t t = 0; t < num_tasks; ++t) std::printf(" %s=%.6f", (*model)->task(t).name, (*scores)[i * num_tasks + t]);
    std::printf("\n");
  }
  return 0;
}
