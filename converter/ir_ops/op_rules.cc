#include "converter/ir_ops/ir_ops.h"

#include "converter/schema_mapping.h"

#include <cmath>
#include <iterator>

namespace edgemtl::converter {
namespace {

std::vector<OpRules> gather_families() {
  std::vector<OpRules> table(std::size(kAllOps));
  std::vector<bool> listed(table.size(), false);
  for (auto family : {linear_op_rules, embedding_op_rules, mix_op_rules, elementwise_op_rules, math_op_rules,
                      activation_op_rules, reduce_op_rules, layout_op_rules,
                      recurrent_op_rules}) {
    for (const OpRules& rules : family()) {
      const size_t index = static_cast<size_t>(rules.op);
      if (listed[index]) throw ConversionError(std::string("internal error: two rules for ") + op_name(rules.op));
      listed[index] = true;
      table[index] = rules;
    }
  }
  for (Op op : kAllOps)
    if (!listed[static_cast<size_t>(op)]) throw ConversionError(std::string("internal error: no rules for ") + op_name(op));
  return table;
}

}  // namespace

const OpRules& op_rules(Op op) {
  static const std::vector<OpRules> table = gather_families();
  const size_t index = static_cast<size_t>(op);
  if (index >= table.size()) throw ConversionError("unknown op");
  return table[index];
}

bool OpCall::any_activation() const {
  for (int v : inputs)
    if (graph.values[v].is_activation()) return true;
  return false;
}

void OpCall::require_arity(size_t lo, size_t hi) const {
  require(inputs.size() >= lo && inputs.size() <= hi, std::string(op_name(op)) + ": wrong number of inputs");
}

void require(bool condition, const std::string& message) {
  if (!condition) throw ConversionError(message);
}

float apply_activation(float x, Activation a, float alpha) {
  switch (a) {
    case Activation::kNone: return x;
    case Activation::kRelu: return x > 0 ? x : 0.0f;
    case Activation::kSigmoid: return 1.0f / (1.0f + std::exp(-x));
    case Activation::kTanh: return std::tanh(x);
    case Activation::kLeakyRelu: return x >= 0 ? x : alpha * x;
  }
  return x;
}

void check_no_symbol(const Value& v, Op op) {
  if (v.has_rows_symbol())
    throw ConversionError(std::string(op_name(op)) + " computes with the row count (only shapes may carry it)");
}

std::vector<int64_t> strides_of(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

void normalize_axis_option(int64_t rank, NodeOptions* options) { options->axis = normalize_axis(options->axis, rank); }

FileOptions write_axis_options(const OptionsWriter& w) {
  return {schema::OpOptions::AxisOptions,
          schema::CreateAxisOptions(w.builder, static_cast<int32_t>(w.node.options.axis)).Union()};
}

std::vector<int32_t> to_int32(const std::vector<int64_t>& values) {
  return std::vector<int32_t>(values.begin(), values.end());
}

bool is_binary_elementwise(Op op) { return (op_rules(op).traits & kBinaryElementwise) != 0; }
bool is_elementwise(Op op) { return (op_rules(op).traits & (kElementwise | kBinaryElementwise)) != 0; }
bool broadcasts_rows(Op op) { return (op_rules(op).traits & kBroadcastsRows) != 0; }

void infer_output(const Graph& graph, Op op, const std::vector<int>& inputs, const NodeOptions& options, DType* dtype,
                  std::vector<int64_t>* shape) {
  op_rules(op).infer(OpCall{graph, op, inputs, options}, dtype, shape);
}

Value evaluate(const Graph& graph, Op op, const std::vector<int>& inputs, const NodeOptions& options, DType dtype,
               const std::vector<int64_t>& shape) {
  Value out;
  out.dtype = dtype;
  out.shape = shape;
  out.is_constant = true;
  op_rules(op).evaluate(OpCall{graph, op, inputs, options}, &out);
  return out;
}

NodeOptions normalize_options(const Graph& graph, Op op, const std::vector<int>& inputs, NodeOptions options) {
  const OpRules& rules = op_rules(op);
  if (!inputs.empty() && rules.normalize) rules.normalize(graph.values[inputs[0]].rank(), &options);
  return options;
}

}  // namespace edgemtl::converter
