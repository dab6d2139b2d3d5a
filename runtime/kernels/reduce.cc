#include "runtime/kernels/reduce.h"

#include <cmath>
#include <limits>

namespace edgemtl {

namespace {

// The reduced axes form one block [first, last]: x is [outer, reduce, inner]
// and every output element sums `reduce` inputs `inner` apart. Rows of inner
// values add at once, which the compiler vectorises.
bool reduce_contiguous_f32(const TensorView& x, const bool reduced[kMaxRank], bool mean, const TensorView& out) {
  int first = -1, last = -1;
  for (int d = 0; d < x.shape.rank; ++d) {
    if (!reduced[d]) continue;
    if (first < 0) first = d;
    else if (last != d - 1) return false;
    last = d;
  }
  if (first < 0) return false;
  int64_t outer = 1, count = 1;
  for (int d = 0; d < first; ++d) outer *= x.shape[d];
  for (int d = first; d <= last; ++d) count *= x.shape[d];
  const int64_t inner = x.shape.elements_from(last + 1);
  const float* in = x.as<const float>();
  float* result = out.as<float>();
  const float divisor = static_cast<float>(count);  // divide, as the general path does
  for (int64_t o = 0; o < outer; ++o) {
    float* target = result + o * inner;
    const float* block = in + o * count * inner;
    for (int64_t i = 0; i < inner; ++i) target[i] = block[i];
    for (int64_t r = 1; r < count; ++r)
      for (int64_t i = 0; i < inner; ++i) target[i] += block[r * inner + i];
    if (mean)
      for (int64_t i = 0; i < inner; ++i) target[i] /= divisor;
  }
  return true;
}

// Every input element combines into its output element (output strides in x's
// rank, 0 along the reduced axes), starting from `init`.
template <typename Combine>
void reduce_general_f32(const TensorView& x, const bool reduced[kMaxRank], float init, Combine combine,
                        const TensorView& out) {
  Shape kept = x.shape;
  for (int d = 0; d < x.shape.rank; ++d)
    if (reduced[d]) kept[d] = 1;
  float* result = out.as<float>();
  for (size_t i = 0, n = out.num_elements(); i < n; ++i) result[i] = init;
  const float* in = x.as<const float>();
  int64_t out_strides[kMaxRank];
  broadcast_strides(kept, x.shape.rank, out_strides);
  int64_t index[kMaxRank] = {0};
  int64_t target = 0;
  const int64_t total = x.shape.num_elements();
  for (int64_t i = 0; i < total; ++i) {
    result[target] = combine(result[target], in[i]);
    for (int d = x.shape.rank - 1; d >= 0; --d) {
      ++index[d];
      target += out_strides[d];
      if (index[d] < x.shape[d]) break;
      target -= out_strides[d] * x.shape[d];
      index[d] = 0;
    }
  }
}

}  // namespace

void reduce_f32(const TensorView& x, const bool reduced[kMaxRank], bool mean, const TensorView& out) {
  if (x.shape.num_elements() > 0 && reduce_contiguous_f32(x, reduced, mean, out)) return;
  reduce_general_f32(x, reduced, 0.0f, [](float r, float v) { return r + v; }, out);
  int64_t count = 1;
  for (int d = 0; d < x.shape.rank; ++d)
    if (reduced[d]) count *= x.shape[d];
  if (mean && count > 0) {
    float* result = out.as<float>();
    const float scale = static_cast<float>(count);
    for (size_t i = 0, n = out.num_elements(); i < n; ++i) result[i] /= scale;
  }
}

void reduce_f32(const TensorView& x, const bool reduced[kMaxRank], ReduceKind kind, const TensorView& out) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  switch (kind) {
    case ReduceKind::kMax:
      reduce_general_f32(x, reduced, -kInf, [](float r, float v) { return v > r || std::isnan(v) ? v : r; }, out);
      return;
    case ReduceKind::kMin:
      reduce_general_f32(x, reduced, kInf, [](float r, float v) { return v < r || std::isnan(v) ? v : r; }, out);
      return;
    case ReduceKind::kProd:
      reduce_general_f32(x, reduced, 1.0f, [](float r, float v) { return r * v; }, out);
      return;
    case ReduceKind::kL2: {
      reduce_general_f32(x, reduced, 0.0f, [](float r, float v) { return r + v * v; }, out);
      float* result = out.as<float>();
      for (size_t i = 0, n = out.num_elements(); i < n; ++i) result[i] = std::sqrt(result[i]);
      return;
    }
  }
}

}  // namespace edgemtl
