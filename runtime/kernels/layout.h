// Data-movement operators: CONCAT, TAKE, TRANSPOSE, BROADCAST_ROWS, copy.
// Dtype-agnostic (bytes). Shapes are run-time shapes.
#pragma once

#include "runtime/core/span.h"
#include "runtime/kernels/tensor_view.h"

namespace edgemtl {

/// Concatenates `inputs` along `axis` (>= 1). An input with 1 row while the
/// output has more is repeated for every output row.
void concat(Span<const TensorView> inputs, int axis, const TensorView& out);

/// out = numpy.take(x, indices, axis) for axis >= 1; negative indices count
/// from the end. Whether the axis is kept (length count) or removed (count == 1)
/// does not change the bytes.
void take(const TensorView& x, int axis, const int64_t* indices, size_t count, const TensorView& out);
/// TAKE of the consecutive indices start .. start + count - 1 (verified within
/// the axis): one memcpy per outer slice.
void take_range(const TensorView& x, int axis, int64_t start, int64_t count, const TensorView& out);

/// out = x.transpose(perm); out.shape[d] == x.shape[perm[d]].
void transpose(const TensorView& x, const int* perm, const TensorView& out);

/// Copies x into every row of out (x has 1 row) or copies x as is (same rows).
void broadcast_rows(const TensorView& x, const TensorView& out);

}  // namespace edgemtl
