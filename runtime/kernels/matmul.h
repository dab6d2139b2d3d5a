// MATMUL: numpy matmul of [..., M, K] and [..., K, N], batch dims broadcast.
#pragma once

#include "runtime/kernels/tensor_view.h"

namespace edgemtl {

/// Plain loop; out.shape is broadcast(batch dims) + [M, N].
void matmul_f32(const TensorView& a, const TensorView& b, const TensorView& out);

}  // namespace edgemtl
