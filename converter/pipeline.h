// The whole conversion: ONNX file -> partitioned, optimized graph IR.
#pragma once

#include <string>

#include "converter/ir.h"
#include "converter/onnx_import.h"

namespace edgemtl::converter {

struct ConvertOptions {
  ImportOptions import;
  bool split_user_item_fc = true;  // --no-split turns the W_u/W_i split off
  bool merge_lookups = true;       // EMBEDDINGs feeding one CONCAT -> one EMBEDDING_MULTI (--no-merge-lookups)
  bool concat_of_reshapes = true;  // CONCAT(RESHAPE(x_i)) -> RESHAPE(CONCAT(x_i))
  bool fuse_mixtures = true;       // REDUCE_SUM(MUL(gate, stacked experts)) -> MIX (--no-fuse-mixtures)
  bool merge_mixtures = true;      // MIXes of the same experts -> one MIX of several gates (--no-merge-mixtures)
  bool fuse_norms = true;          // LayerNorm / GELU decompositions -> LAYER_NORM / UNARY GELU
  bool fuse_input_adds = true;     // the split's ADD -> the addend of the static int8 layers reading it (--no-fuse-input-adds)
};

/// Runs every pass on an imported graph, in order.
void run_pipeline(Graph& graph, const ConvertOptions& options);

Graph convert_onnx_file(const std::string& path, const ConvertOptions& options);

}  // namespace edgemtl::converter
