#include "converter/quantize/ranking.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace edgemtl::converter {
namespace {

// Ranks 1..n of `values` (ascending), ties sharing their average rank.
std::vector<double> average_ranks(const float* values, size_t n) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(n);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && values[order[j]] == values[order[i]]) ++j;
    const double rank = (double(i) + double(j - 1)) / 2.0 + 1.0;
    for (size_t k = i; k < j; ++k) ranks[order[k]] = rank;
    i = j;
  }
  return ranks;
}

// The indices of the k highest scores (earlier index first among equals).
std::vector<size_t> top_k(const float* scores, size_t n, size_t k) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  order.resize(k);
  std::sort(order.begin(), order.end());
  return order;
}

}  // namespace

double spearman(const float* a, const float* b, size_t n) {
  if (n < 2) return std::nan("");
  const std::vector<double> ra = average_ranks(a, n), rb = average_ranks(b, n);
  // Pearson correlation of the ranks (exact with ties, unlike 1 - 6·Σd²/(n(n²-1))).
  const double mean = (double(n) + 1.0) / 2.0;
  double cov = 0.0, va = 0.0, vb = 0.0;
  for (size_t i = 0; i < n; ++i) {
    cov += (ra[i] - mean) * (rb[i] - mean);
    va += (ra[i] - mean) * (ra[i] - mean);
    vb += (rb[i] - mean) * (rb[i] - mean);
  }
  if (va == 0.0 || vb == 0.0) return std::nan("");
  return cov / std::sqrt(va * vb);
}

double top_k_overlap(const float* reference, const float* scores, size_t n, size_t k) {
  if (k == 0 || k > n) return std::nan("");
  const std::vector<size_t> a = top_k(reference, n, k), b = top_k(scores, n, k);
  std::vector<size_t> common;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(common));
  return double(common.size()) / double(k);
}

Spread spread_of(std::vector<double> values) {
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return std::isnan(v); }), values.end());
  Spread s;
  s.count = values.size();
  if (values.empty()) return {std::nan(""), std::nan(""), 0};
  std::sort(values.begin(), values.end());
  s.median = values[(values.size() - 1) / 2];
  s.p10 = values[(values.size() - 1) / 10];
  return s;
}

RankingFidelity ranking_fidelity(const std::vector<float>& reference, const std::vector<float>& scores,
                                 const std::vector<Request>& requests, size_t tasks, size_t task) {
  std::vector<double> rho, overlap[std::size(kTopK)];
  size_t first = 0;
  for (const Request& request : requests) {
    const size_t n = request.items.size();
    if (n >= 2) {
      std::vector<float> a(n), b(n);
      for (size_t i = 0; i < n; ++i) {
        a[i] = reference[(first + i) * tasks + task];
        b[i] = scores[(first + i) * tasks + task];
      }
      rho.push_back(spearman(a.data(), b.data(), n));
      for (size_t k = 0; k < std::size(kTopK); ++k)
        if (n > kTopK[k]) overlap[k].push_back(top_k_overlap(a.data(), b.data(), n, kTopK[k]));
    }
    first += n;
  }
  RankingFidelity f;
  f.spearman = spread_of(std::move(rho));
  for (size_t k = 0; k < std::size(kTopK); ++k) f.overlap[k] = spread_of(std::move(overlap[k]));
  return f;
}

bool meets(const RankingFidelity& fidelity, const RankingTarget& target) {
  const Spread& top10 = fidelity.overlap[kTop10];
  return (fidelity.spearman.count == 0 || fidelity.spearman.median >= target.min_spearman) &&
         (top10.count == 0 || top10.median >= target.min_top10_overlap);
}

std::string describe(const RankingFidelity& fidelity) {
  char text[160];
  const Spread& s = fidelity.spearman;
  const Spread& top10 = fidelity.overlap[kTop10];
  if (s.count == 0) return "no request of two or more items";
  int used = std::snprintf(text, sizeof text, "Spearman %.4f (p10 %.4f)", s.median, s.p10);
  if (top10.count > 0)
    used += std::snprintf(text + used, sizeof text - used, ", top-10 %.2f (p10 %.2f)", top10.median, top10.p10);
  std::snprintf(text + used, sizeof text - used, " over %zu requests", s.count);
  return text;
}

}  // namespace edgemtl::converter
