#include "examples/rerank/ranking.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

namespace edgemtl::rerank {

bool parse_weights(const std::string& text, std::vector<TaskWeight>* weights, std::string* error) {
  weights->clear();
  std::stringstream stream(text);
  std::string entry;
  while (std::getline(stream, entry, ',')) {
    size_t equals = entry.find('=');
    if (equals == std::string::npos || equals == 0) {
      *error = "expected task=weight, got '" + entry + "'";
      return false;
    }
    char* end = nullptr;
    std::string number = entry.substr(equals + 1);
    double weight = std::strtod(number.c_str(), &end);
    if (number.empty() || *end != '\0' || !std::isfinite(weight)) {
      *error = "bad weight in '" + entry + "'";
      return false;
    }
    weights->push_back({entry.substr(0, equals), weight});
  }
  return true;
}

double combined_score(const float* scores, const std::vector<size_t>& task_index, const std::vector<TaskWeight>& weights) {
  double log_score = 0.0;
  for (size_t i = 0; i < weights.size(); ++i)
    log_score += weights[i].weight * std::log(std::max(1e-12, static_cast<double>(scores[task_index[i]])));
  return std::exp(log_score);
}

std::vector<size_t> rank_by(const std::vector<double>& score) {
  std::vector<size_t> order(score.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] > score[b]; });
  return order;
}

double ndcg_at(const std::vector<size_t>& order, const std::vector<double>& relevance, size_t k) {
  auto dcg = [&](const std::vector<size_t>& shown) {
    double sum = 0.0;
    for (size_t i = 0; i < shown.size() && i < k; ++i) sum += relevance[shown[i]] / std::log2(static_cast<double>(i) + 2.0);
    return sum;
  };
  double ideal = dcg(rank_by(relevance));
  return ideal > 0.0 ? dcg(order) / ideal : 0.0;
}

}  // namespace edgemtl::rerank
