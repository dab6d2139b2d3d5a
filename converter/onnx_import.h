// ONNX (as written by PyTorch's exporter, opsets 11-17) -> graph IR.
#pragma once

#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "converter/ir.h"

namespace edgemtl::converter {

struct TaskOverride {
  std::string name;
  std::optional<bool> probability;  // unset: keep the default kind
};

struct ImportOptions {
  std::vector<std::string> user_inputs;  // graph inputs whose feature side is USER
  std::vector<TaskOverride> tasks;       // empty: default names and kinds
  int64_t oov_row = -1;                  // >= 0: default_row of every EMBEDDING
  /// --input-shape: the length of the dynamic dimensions (other than the rows) of these inputs.
  std::vector<std::pair<std::string, int64_t>> input_shapes;
  /// --fix-input: these inputs become constants (every element the value; one row): they are no
  /// features, and what depends only on them is folded.
  std::vector<std::pair<std::string, double>> fixed_inputs;
  /// --outputs: the graph outputs kept, by name (empty: all); the others become dead code.
  std::vector<std::string> outputs;
  /// ID_LIST features: a short list is padded before its ids (else after); a long one keeps its last ids.
  bool pad_lists_before = false;
  bool keep_last_ids = false;
};

/// Reads the ONNX file at `path` and lowers it to the IR: every value that does
/// not depend on an input is computed here (constant folding). Fills features
/// and tasks. Throws ConversionError naming the node on anything that cannot
/// be converted exactly.
Graph import_onnx_file(const std::string& path, const ImportOptions& options);

/// Same for an ONNX ModelProto in memory (serialized bytes).
Graph import_onnx_bytes(const std::string& bytes, const ImportOptions& options);

/// The ONNX op types (default domain) the importer has a handler for, sorted
/// (import/*.cc). Any other op type is refused: "node 'NAME' (TYPE): unsupported operator".
std::vector<std::string> supported_onnx_ops();

/// docs/OPERATORS.md: every supported ONNX op with its opsets and constraints,
/// from the importer's table (edgemtl-convert --list-operators).
std::string operators_markdown();

}  // namespace edgemtl::converter
