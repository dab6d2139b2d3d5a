// Ranking fidelity: does a quantised model put the same candidates on top as
// f32 for one user? Per request (one user's candidates) and task: Spearman's
// rank correlation and the top-k overlap against the f32 scores, summarised
// over requests by their median and 10th percentile. Used by the int8 plan
// search (its target) and by --validate (the report).
#pragma once

#include <cstddef>
#include <iterator>
#include <string>
#include <vector>

#include "converter/quantize/calibration.h"

namespace edgemtl::converter {

/// Spearman's rank correlation of a and b (n values each; tied values get
/// their average rank). NaN when n < 2 or either side is constant.
double spearman(const float* a, const float* b, size_t n);

/// |top k of reference ∩ top k of scores| / k, highest scores first; among
/// equal scores the earlier candidate ranks higher (a stable order, as a
/// re-ranker sorting candidates would give). Needs k <= n.
double top_k_overlap(const float* reference, const float* scores, size_t n, size_t k);

/// Median and 10th percentile (nearest rank, the lower value) of `values`;
/// NaNs are left out. `count` is how many values there were.
struct Spread {
  double median = 0.0, p10 = 0.0;
  size_t count = 0;
};
Spread spread_of(std::vector<double> values);

/// The k of the top-k overlaps reported (a request is counted for k when it has more than k candidates).
inline constexpr size_t kTopK[] = {5, 10, 50};
inline constexpr size_t kTop10 = 1;  // kTopK[kTop10] == 10: the one the target reads

/// One task's ranking fidelity over requests of at least two items.
struct RankingFidelity {
  Spread spearman;
  Spread overlap[std::size(kTopK)];
};

/// `reference` and `scores` are [items x tasks] in the order of `requests`
/// (as score_requests returns them).
RankingFidelity ranking_fidelity(const std::vector<float>& reference, const std::vector<float>& scores,
                                 const std::vector<Request>& requests, size_t tasks, size_t task);

/// The target the int8 plan search meets on the calibration requests (for
/// every task), next to the mean score difference: median Spearman and median
/// top-10 overlap. A target is not applied where no request has the items it needs.
struct RankingTarget {
  double min_spearman = 0.98;
  double min_top10_overlap = 0.9;
};

/// True when `fidelity` meets `target` (targets without requests count as met).
bool meets(const RankingFidelity& fidelity, const RankingTarget& target);

/// "Spearman 0.991 (p10 0.975), top-10 0.92 (p10 0.80) over 25 requests" for logs.
std::string describe(const RankingFidelity& fidelity);

}  // namespace edgemtl::converter
