// Evaluation of one IR operator on constant inputs (constant folding).
#pragma once

#include <vector>

#include "converter/ir.h"

namespace edgemtl::converter {

/// Computes `op` on constant `inputs`; `dtype`/`shape` come from infer_output.
/// Int64 data may contain kRowsSymbol: ops that only move elements carry it,
/// arithmetic on it throws ConversionError.
Value evaluate(const Graph& graph, Op op, const std::vector<int>& inputs, const NodeOptions& options, DType dtype,
               const std::vector<int64_t>& shape);

/// For each element of `out_shape` (row-major), the offset of the element of
/// a tensor of `in_shape` that numpy broadcasting reads.
std::vector<int64_t> broadcast_offsets(const std::vector<int64_t>& in_shape, const std::vector<int64_t>& out_shape);

}  // namespace edgemtl::converter
