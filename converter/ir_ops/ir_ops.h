// Shape inference and constant evaluation of the IR operators: one file per
// family (linear.cc, embedding.cc, mix.cc, elementwise.cc, activation.cc,
// reduce.cc, layout.cc, recurrent.cc), each listing its operators' rules, one line per op.
// op_rules.cc gathers the lists into one table indexed by Op.
#pragma once

#include <string>
#include <vector>

#include "converter/ir.h"

namespace edgemtl::converter {

/// One IR operator applied to values of a graph.
struct OpCall {
  const Graph& graph;
  Op op;
  const std::vector<int>& inputs;
  const NodeOptions& options;

  const Value& in(size_t i) const { return graph.values.at(inputs.at(i)); }
  bool any_activation() const;
  /// Throws "<OP>: wrong number of inputs" unless lo <= inputs <= hi.
  void require_arity(size_t lo, size_t hi) const;
};

struct OpRules {
  Op op;
  /// Output dtype and shape; throws ConversionError saying what does not fit.
  void (*infer)(const OpCall& call, DType* dtype, std::vector<int64_t>* shape);
  /// Fills `out` (dtype and shape from infer, already set) from constant inputs.
  /// Int64 data may hold kRowsSymbol: ops that only move elements carry it.
  void (*evaluate)(const OpCall& call, Value* out);
  /// Options that depend on the rank of input 0 (negative axes), or null.
  void (*normalize)(int64_t rank, NodeOptions* options) = nullptr;
};

/// `options` with the rank-dependent fields normalized (Graph::emit stores these).
NodeOptions normalize_options(const Graph& graph, Op op, const std::vector<int>& inputs, NodeOptions options);

/// The rules of `op` (throws ConversionError("unknown op") for a value outside the list).
const OpRules& op_rules(Op op);

// The families' lists, gathered by op_rules.
std::vector<OpRules> linear_op_rules();
std::vector<OpRules> embedding_op_rules();
std::vector<OpRules> mix_op_rules();
std::vector<OpRules> elementwise_op_rules();
std::vector<OpRules> activation_op_rules();
std::vector<OpRules> reduce_op_rules();
std::vector<OpRules> layout_op_rules();
std::vector<OpRules> recurrent_op_rules();

// ---- shared by the families ----------------------------------------------------

void require(bool condition, const std::string& message);
float apply_activation(float x, Activation activation, float alpha);
/// Throws when `v` holds the row count: `op` would compute with it.
void check_no_symbol(const Value& v, Op op);
std::vector<int64_t> strides_of(const std::vector<int64_t>& shape);
/// Normalizes `options->axis` (SOFTMAX, CONCAT, TAKE).
void normalize_axis_option(int64_t rank, NodeOptions* options);

}  // namespace edgemtl::converter
