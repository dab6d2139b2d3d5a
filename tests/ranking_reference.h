// Naive ranking-fidelity arithmetic for tests: the definitions written out
// with O(n^2) counting, independent of converter/quantize/ranking.cc which
// they check, and used by the int8 ranking gates (rerank and census).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace edgemtl::test {

/// Spearman's rank correlation: rank = 1 + #smaller + (#equal - 1) / 2, then
/// Pearson's correlation of the ranks. NaN when a side is constant.
inline double naive_spearman(const std::vector<float>& a, const std::vector<float>& b) {
  const size_t n = a.size();
  auto ranks = [n](const std::vector<float>& x) {
    std::vector<double> r(n);
    for (size_t i = 0; i < n; ++i) {
      double smaller = 0, equal = 0;
      for (size_t j = 0; j < n; ++j) {
        smaller += x[j] < x[i];
        equal += x[j] == x[i];
      }
      r[i] = 1 + smaller + (equal - 1) / 2;
    }
    return r;
  };
  const std::vector<double> ra = ranks(a), rb = ranks(b);
  double ma = 0, mb = 0;
  for (size_t i = 0; i < n; ++i) ma += ra[i] / double(n), mb += rb[i] / double(n);
  double cov = 0, va = 0, vb = 0;
  for (size_t i = 0; i < n; ++i) {
    cov += (ra[i] - ma) * (rb[i] - mb);
    va += (ra[i] - ma) * (ra[i] - ma);
    vb += (rb[i] - mb) * (rb[i] - mb);
  }
  return cov / std::sqrt(va * vb);
}

/// Item i is in the top k when fewer than k items beat it (a higher score, or
/// an equal one earlier). Returns |top k of a ∩ top k of b| / k.
inline double naive_top_k_overlap(const std::vector<float>& a, const std::vector<float>& b, size_t k) {
  auto in_top = [k](const std::vector<float>& x, size_t i) {
    size_t beaten_by = 0;
    for (size_t j = 0; j < x.size(); ++j) beaten_by += x[j] > x[i] || (x[j] == x[i] && j < i);
    return beaten_by < k;
  };
  size_t both = 0;
  for (size_t i = 0; i < a.size(); ++i) both += in_top(a, i) && in_top(b, i);
  return double(both) / double(k);
}

/// The median (the lower middle value for an even count).
inline double naive_median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? std::nan("") : values[(values.size() - 1) / 2];
}

}  // namespace edgemtl::test
