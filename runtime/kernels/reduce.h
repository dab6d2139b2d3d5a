// REDUCE_SUM / REDUCE_MEAN over a set of axes (>= 1), plain loop.
#pragma once

#include "runtime/kernels/tensor_view.h"

namespace edgemtl {

/// `reduced[d]` marks the reduced axes of x. out has x's shape with those
/// axes set to 1 or removed (keepdims does not change the bytes).
void reduce_f32(const TensorView& x, const bool reduced[kMaxRank], bool mean, const TensorView& out);

}  // namespace edgemtl
