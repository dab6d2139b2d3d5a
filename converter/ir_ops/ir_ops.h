// Shape inference and constant evaluation of the IR operators: one file per
// family (linear.cc, embedding.cc, mix.cc, elementwise.cc, activation.cc,
// reduce.cc, layout.cc, recurrent.cc), each listing its operators' rules, one line per op.
// op_rules.cc gathers the lists into one table indexed by Op.
#pragma once

#include <string>
#include <vector>

#include "converter/ir.h"
#include "converter/quantize_plan.h"
#include "schema/edgemtl_generated.h"

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

/// An operator's options table in the file (writer.cc), for OpRules::write_options.
struct FileOptions {
  schema::OpOptions type = schema::OpOptions::NONE;
  flatbuffers::Offset<void> table;
};
struct OptionsWriter {
  flatbuffers::FlatBufferBuilder& builder;
  const Node& node;
  /// The node's int8 form when the quantisation plan has one (FULLY_CONNECTED), else null.
  const FullyConnectedQuantization* fc_quantization;
};

/// What passes and the partition need to know of an op (OpRules::traits).
enum OpTrait : unsigned {
  kElementwise = 1u << 0,         ///< row by row; may read a row-broadcast constant (zeros_like(x))
  kBinaryElementwise = 1u << 1,   ///< ADD .. MIN: takes a fused activation
  kBroadcastsRows = 1u << 2,      ///< repeats a 1-row (user-stage) input for every row
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
  /// OpTrait bits.
  unsigned traits = 0;
  /// Writes the op's options table, or null for an op without options.
  FileOptions (*write_options)(const OptionsWriter& writer) = nullptr;
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
std::vector<OpRules> math_op_rules();
std::vector<OpRules> recurrent_op_rules();

// ---- shared by the families ----------------------------------------------------

void require(bool condition, const std::string& message);
float apply_activation(float x, Activation activation, float alpha);
/// Throws when `v` holds the row count: `op` would compute with it.
void check_no_symbol(const Value& v, Op op);
std::vector<int64_t> strides_of(const std::vector<int64_t>& shape);
/// Normalizes `options->axis` (SOFTMAX, CONCAT, TAKE).
void normalize_axis_option(int64_t rank, NodeOptions* options);
/// AxisOptions (SOFTMAX, CONCAT).
FileOptions write_axis_options(const OptionsWriter& writer);
std::vector<int32_t> to_int32(const std::vector<int64_t>& values);

}  // namespace edgemtl::converter
