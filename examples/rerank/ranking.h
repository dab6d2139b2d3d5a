// Ranking arithmetic of the re-ranking demo: the combined score and NDCG.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace edgemtl::rerank {

/// Exponent of one task in the combined score.
struct TaskWeight {
  std::string task;
  double weight;
};

/// Parses "ctr=1,ctcvr=0.5"; returns false with `error` set on bad syntax.
bool parse_weights(const std::string& text, std::vector<TaskWeight>* weights, std::string* error);

/// Combined ranking score of one item: prod_t score_t ^ weight_t over the
/// weighted tasks (`task_index[i]` is the column of weights[i] in `scores`).
/// Scores are clamped to [1e-12, inf) so a zero probability ranks last.
double combined_score(const float* scores, const std::vector<size_t>& task_index, const std::vector<TaskWeight>& weights);

/// Item positions sorted by descending `score` (stable: ties keep their order).
std::vector<size_t> rank_by(const std::vector<double>& score);

/// NDCG@k of showing items in `order`, with gain `relevance[item]`.
double ndcg_at(const std::vector<size_t>& order, const std::vector<double>& relevance, size_t k);

}  // namespace edgemtl::rerank
