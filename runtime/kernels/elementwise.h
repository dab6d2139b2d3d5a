// Plain-loop elementwise operators with numpy broadcasting: EQUAL, NOT,
// WHERE, CAST, PRELU. Shapes are the run-time shapes; `out.shape` is the
// broadcast of the inputs' shapes (verified at model load).
#pragma once

#include "runtime/kernels/tensor_view.h"

namespace edgemtl {

/// out (BOOL) = a == b; a and b of the same dtype.
void equal(const TensorView& a, const TensorView& b, const TensorView& out);
/// out (BOOL) = !x.
void logical_not(const TensorView& x, const TensorView& out);
/// out = condition ? a : b; any dtype (copied bytewise).
void where(const TensorView& condition, const TensorView& a, const TensorView& b, const TensorView& out);
/// out = x converted to out.dtype. Float to int truncates toward zero (as
/// ONNX Cast); NaN becomes 0 and values beyond int64 saturate. To BOOL: x != 0.
void cast(const TensorView& x, const TensorView& out);
/// out = x >= 0 ? x : slope * x, slope broadcast to x.
void prelu(const TensorView& x, const TensorView& slope, const TensorView& out);

}  // namespace edgemtl
