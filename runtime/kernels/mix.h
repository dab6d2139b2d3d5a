// MIX: the gate-weighted sum of the experts of a mixture (MMoE, PLE) in one
// pass, instead of CONCAT, MUL by the reshaped gate and REDUCE_SUM.
#pragma once

#include "runtime/core/span.h"
#include "runtime/kernels/tensor_view.h"

namespace edgemtl {

/// inputs[0] is the gate [rows, E], inputs[1 .. E] the experts [rows, D]
/// (FLOAT32; any of them may have 1 row, repeated for every output row).
/// out [rows, D]: out[r, :] = gate[r, 0] * h_0[r, :] + ... + gate[r, E-1] * h_{E-1}[r, :],
/// added left to right as REDUCE_SUM adds the products.
void mix_f32(Span<const TensorView> inputs, const TensorView& out);

}  // namespace edgemtl
