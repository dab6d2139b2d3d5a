// REDUCE_SUM / REDUCE_MEAN / REDUCE_MAX / REDUCE_MIN / REDUCE_PROD / REDUCE_L2 over a
// set of axes (>= 1), plain loops.
#pragma once

#include "runtime/kernels/tensor_view.h"

namespace edgemtl {

/// `reduced[d]` marks the reduced axes of x. out has x's shape with those
/// axes set to 1 or removed (keepdims does not change the bytes).
void reduce_f32(const TensorView& x, const bool reduced[kMaxRank], bool mean, const TensorView& out);

enum class ReduceKind { kMax, kMin, kProd, kL2 };
/// The other reductions, same layout: max and min (NaN wins; -inf / +inf over no
/// element), product (1 over none), L2 = sqrt(sum of squares).
void reduce_f32(const TensorView& x, const bool reduced[kMaxRank], ReduceKind kind, const TensorView& out);

}  // namespace edgemtl
