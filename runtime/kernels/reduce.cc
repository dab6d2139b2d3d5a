#include "runtime/kernels/reduce.h"

namespace edgemtl {

void reduce_f32(const TensorView& x, const bool reduced[kMaxRank], bool mean, const TensorView& out) {
  // Output strides in x's rank, 0 along the reduced axes: every input element
  // adds into its output element.
  Shape kept = x.shape;
  int64_t count = 1;
  for (int d = 0; d < x.shape.rank; ++d) {
    if (reduced[d]) {
      kept[d] = 1;
      count *= x.shape[d];
    }
  }
  float* result = out.as<float>();
  const size_t out_elements = out.num_elements();
  for (size_t i = 0; i < out_elements; ++i) result[i] = 0.0f;
  const float* in = x.as<const float>();
  // Iterate x's elements and map each onto its (broadcast) output slot.
  int64_t out_strides[kMaxRank];
  broadcast_strides(kept, x.shape.rank, out_strides);
  int64_t index[kMaxRank] = {0};
  int64_t target = 0;
  const int64_t total = x.shape.num_elements();
  for (int64_t i = 0; i < total; ++i) {
    result[target] += in[i];
    for (int d = x.shape.rank - 1; d >= 0; --d) {
      ++index[d];
      target += out_strides[d];
      if (index[d] < x.shape[d]) break;
      target -= out_strides[d] * x.shape[d];
      index[d] = 0;
    }
  }
  if (mean && count > 0) {
    const float scale = static_cast<float>(count);
    for (size_t i = 0; i < out_elements; ++i) result[i] /= scale;
  }
}

}  // namespace edgemtl
