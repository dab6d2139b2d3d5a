// The ONNX importer's node context and its table of handlers. Importer walks
// the graph (onnx_import.cc): values by name, initializers, inputs, errors.
// Each ONNX op type has a handler in one family file (elementwise.cc,
// activation.cc, gemm_matmul.cc, shape_ops.cc, indexing.cc, reduce.cc,
// normalization.cc, constants.cc) that lowers the current node to IR ops with
// the helpers below; handlers.cc gathers the families' lists into one table.
#pragma once

#include <onnx/onnx_pb.h>

#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "converter/ir.h"

namespace edgemtl::converter {

class Importer;
using OnnxHandler = void (*)(Importer& node);

/// One line of a family's list: an ONNX op type, its handler, and for
/// docs/OPERATORS.md (edgemtl-convert --list-operators) a short note of its
/// constraints and the opsets it is accepted in (within the importer's 11..17).
struct OnnxOp {
  const char* type;
  OnnxHandler lower;
  const char* constraints = "";
  int first_opset = 11;
  int last_opset = 17;
};

// The families' lists, gathered by onnx_handler.
std::vector<OnnxOp> activation_onnx_ops();
std::vector<OnnxOp> bag_onnx_ops();
std::vector<OnnxOp> constant_onnx_ops();
std::vector<OnnxOp> elementwise_onnx_ops();
std::vector<OnnxOp> gemm_matmul_onnx_ops();
std::vector<OnnxOp> indexing_onnx_ops();
std::vector<OnnxOp> math_onnx_ops();
std::vector<OnnxOp> normalization_onnx_ops();
std::vector<OnnxOp> reduce_onnx_ops();
std::vector<OnnxOp> shape_onnx_ops();
std::vector<OnnxOp> recurrent_onnx_ops();

/// Lowers a Transpose, Squeeze, Unsqueeze, Reshape, Gather or Shape node that reads or
/// makes a tensor with its rows away from axis 0 (time-major sequences around LSTM and GRU,
/// import/recurrent.cc); throws for other op types reading one.
void lower_moved_rows(Importer& node);
/// True when the current node reads or makes such a tensor and lower_moved_rows takes it.
bool moves_rows(const Importer& node);

/// The node of the graph being imported that writes a value name, or null.
using OnnxProducer = std::function<const onnx::NodeProto*(const std::string&)>;

/// An nn.EmbeddingBag Loop (import/bag.cc): the names of its table, 2-D ids and
/// (optional) 2-D weights, and its mode (0 sum, 1 mean, 2 max).
struct BagLoop {
  std::string table, ids, weights;
  int64_t mode = 0;
};
/// Whether `loop` is the Loop torch 1.13 writes for nn.EmbeddingBag over a 2-D
/// input (then fills `bag`); `outer` finds the producers in the enclosing graph.
bool match_bag_loop(const onnx::NodeProto& loop, const OnnxProducer& outer, BagLoop* bag);

/// The handler of ONNX op type `type` (default domain), or null when unsupported.
OnnxHandler onnx_handler(const std::string& type);
/// Every line of every family's list, sorted by type.
std::vector<OnnxOp> onnx_op_table();

/// A constant from an initializer or attribute tensor (throws on external data or an unsupported type).
Value constant_from_tensor(const onnx::TensorProto& tensor);

class Importer {
 public:
  Importer(Graph& graph, int opset) : g_(graph), opset_(opset) {}

  void add_value(const std::string& name, int value) { value_of_[name] = value; }
  /// Where the ONNX tensor `name` has its rows: 0, or the axis of a tensor stored
  /// row-first in the IR whose ONNX shape has the row dimension moved to `axis`
  /// (the other dimensions in order): time-major sequences and RNN states.
  int64_t row_axis(const std::string& name) const {
    auto it = row_axis_of_.find(name);
    return it == row_axis_of_.end() ? 0 : it->second;
  }
  bool has_value(const std::string& name) const { return value_of_.count(name) != 0; }
  int value(const std::string& name) const {
    auto it = value_of_.find(name);
    if (it == value_of_.end()) throw ConversionError("input '" + name + "' is not produced by any node");
    return it->second;
  }

  /// Lowers `node` through its handler (throws "unsupported operator" without one).
  void lower(const onnx::NodeProto& node);

  // ---- for the handlers: the node being lowered ----------------------------------

  const onnx::NodeProto& proto() const { return *node_; }
  /// Producers of the graph's value names (set by the graph walk).
  const OnnxProducer& producers() const { return producers_; }
  void set_producers(OnnxProducer producers) { producers_ = std::move(producers); }
  const std::string& name() const { return name_; }
  int opset() const { return opset_; }
  Graph& graph() { return g_; }

  // Inputs and attributes.
  bool has_input(size_t i) const { return static_cast<int>(i) < node_->input_size() && !node_->input(i).empty(); }
  int in(size_t i) const {
    if (!has_input(i)) throw ConversionError("missing input " + std::to_string(i));
    return value(node_->input(i));
  }
  const Value& val(int v) const { return g_.values[v]; }
  const Value& constant_input(size_t i, const char* what) const {
    const Value& v = val(in(i));
    if (!v.is_constant) throw ConversionError(std::string(what) + " must be a constant");
    return v;
  }
  std::vector<int64_t> int_list_input(size_t i, const char* what) const {
    const Value& v = constant_input(i, what);
    if (v.dtype != DType::kInt64) throw ConversionError(std::string(what) + " must be integers");
    return v.ints;
  }
  float float_scalar_input(size_t i, const char* what) const {
    const Value& v = constant_input(i, what);
    if (v.dtype != DType::kFloat32 || v.floats.size() != 1) throw ConversionError(std::string(what) + " must be a float scalar");
    return v.floats[0];
  }
  const onnx::AttributeProto* attr(const char* name) const {
    for (const auto& a : node_->attribute())
      if (a.name() == name) return &a;
    return nullptr;
  }
  int64_t attr_int(const char* name, int64_t fallback) const {
    auto a = attr(name);
    return a ? a->i() : fallback;
  }
  float attr_float(const char* name, float fallback) const {
    auto a = attr(name);
    return a ? a->f() : fallback;
  }
  std::optional<std::vector<int64_t>> attr_ints(const char* name) const {
    auto a = attr(name);
    if (!a) return std::nullopt;
    return std::vector<int64_t>(a->ints().begin(), a->ints().end());
  }
  // Axes of Unsqueeze/Squeeze/ReduceSum/Split: an attribute before opset 13, an input after.
  std::optional<std::vector<int64_t>> axes_from(const char* attr_name, size_t input_index) const {
    if (auto a = attr_ints(attr_name)) return a;
    if (has_input(input_index)) return int_list_input(input_index, attr_name);
    return std::nullopt;
  }

  // Outputs.
  void set_output(size_t i, int v) {
    if (static_cast<int>(i) < node_->output_size() && !node_->output(i).empty()) value_of_[node_->output(i)] = v;
  }
  int64_t in_row_axis(size_t i) const { return has_input(i) ? row_axis(node_->input(i)) : 0; }
  /// Output i is IR value v (row-first) whose ONNX tensor has its rows at `axis`.
  void set_moved_output(size_t i, int v, int64_t axis) {
    set_output(i, v);
    if (axis != 0 && static_cast<int>(i) < node_->output_size() && !node_->output(i).empty()) {
      row_axis_of_[node_->output(i)] = axis;
      moved_by_[node_->output(i)] = "node '" + name_ + "' (" + node_->op_type() + ")";
    }
  }
  /// Output i is a float32 value standing for the ONNX DOUBLE tensor of a Cast of it (exact): torch
  /// writes torch.isinf(x) as IsInf(Cast(x, DOUBLE)). lower() lets only IsInf, IsNaN and Cast read it.
  void set_widened_output(size_t i, int v) {
    set_output(i, v);
    if (static_cast<int>(i) < node_->output_size() && !node_->output(i).empty()) widened_.insert(node_->output(i));
  }
  /// Throws unless the ONNX tensor `name` (a graph output) has its rows at axis 0.
  void expect_rows_first(const std::string& name) const {
    if (row_axis(name) == 0) return;
    throw ConversionError(moved_by_.at(name) + ": moves the row dimension to axis " + std::to_string(row_axis(name)) +
                          " and graph output '" + name + "' keeps it there (only dimension 0 may be the rows)");
  }
  std::string out_name(size_t i = 0) const {
    return static_cast<int>(i) < node_->output_size() ? node_->output(i) : name_ + "_out";
  }
  int emit(Op op, const std::vector<int>& inputs, const NodeOptions& o = {}, size_t output = 0) {
    return g_.emit(op, inputs, o, name_, out_name(output));
  }
  int emit_tmp(Op op, const std::vector<int>& inputs, const NodeOptions& o = {}) {
    return g_.emit(op, inputs, o, name_, name_ + "_tmp");
  }
  int reshape(int v, std::vector<int64_t> shape, size_t output = 0, bool final = true) {
    if (val(v).shape == shape) return v;
    NodeOptions o;
    o.shape = std::move(shape);
    return final ? emit(Op::kReshape, {v}, o, output) : emit_tmp(Op::kReshape, {v}, o);
  }
  int take(int v, int64_t axis, std::vector<int64_t> indices, size_t output, bool final) {
    NodeOptions o;
    o.axis = axis;
    o.indices = std::move(indices);
    return final ? emit(Op::kTake, {v}, o, output) : emit_tmp(Op::kTake, {v}, o);
  }
  int float_constant(std::vector<int64_t> shape, std::vector<float> data, const std::string& suffix) {
    return g_.add_float_constant(name_ + suffix, std::move(shape), std::move(data));
  }
  /// Adds `v` (a computed constant) under output 0's name and returns it.
  int add_output_constant(Value v) {
    v.name = g_.unique_name(out_name());
    g_.values.push_back(std::move(v));
    return static_cast<int>(g_.values.size()) - 1;
  }

 private:
  Graph& g_;
  int opset_;
  std::unordered_map<std::string, int> value_of_;
  std::unordered_map<std::string, int64_t> row_axis_of_;
  std::unordered_map<std::string, std::string> moved_by_;  // the node that made each such tensor
  std::unordered_set<std::string> widened_;                 // set_widened_output
  const onnx::NodeProto* node_ = nullptr;
  OnnxProducer producers_ = [](const std::string&) -> const onnx::NodeProto* { return nullptr; };
  std::string name_;
};

}  // namespace edgemtl::converter
