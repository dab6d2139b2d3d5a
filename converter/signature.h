// The model's signature: features (graph inputs) and tasks (output columns).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "converter/ir.h"
#include "converter/onnx_import.h"

namespace edgemtl::converter {

/// One feature per graph input: side USER when listed in `user_inputs`, kind
/// from dtype and shape, padding id and table size from how the ids are used.
void assign_features(Graph& graph, const std::vector<std::string>& input_names, const std::vector<int>& input_values,
                     const std::vector<std::string>& user_inputs);

/// One task per output column: name `<output>` (one column) or `<output>:<i>`,
/// PROBABILITY when the column comes out of a Sigmoid; `overrides` in order.
void assign_tasks(Graph& graph, const std::vector<std::pair<std::string, int>>& outputs,
                  const std::vector<TaskOverride>& overrides);

/// Sets default_row of every EMBEDDING (no-op when row < 0).
void apply_oov_row(Graph& graph, int64_t row);

}  // namespace edgemtl::converter
