#include "converter/onnx_import.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>
#include <unordered_map>

#include "converter/signature.h"

namespace edgemtl::converter {
namespace {

using onnx::NodeProto;
using onnx::TensorProto;

// ---- ONNX tensors -> constants ------------------------------------------------

template <typename T>
std::vector<T> raw_values(const TensorProto& t, size_t count) {
  if (t.raw_data().size() != count * sizeof(T)) throw ConversionError("tensor '" + t.name() + "': raw data size mismatch");
  std::vector<T> out(count);
  std::memcpy(out.data(), t.raw_data().data(), count * sizeof(T));
  return out;
}

Value constant_from_tensor(const TensorProto& t) {
  if (t.data_location() == TensorProto::EXTERNAL)
    throw ConversionError("tensor '" + t.name() + "' uses external data (save the model with weights inside)");
  Value v;
  v.name = t.name();
  v.is_constant = true;
  for (int64_t d : t.dims()) v.shape.push_back(d);
  const size_t count = static_cast<size_t>(product(v.shape));
  const bool raw = t.has_raw_data();
  switch (t.data_type()) {
    case TensorProto::FLOAT:
      v.dtype = DType::kFloat32;
      v.floats = raw ? raw_values<float>(t, count) : std::vector<float>(t.float_data().begin(), t.float_data().end());
      break;
    case TensorProto::DOUBLE: {
      v.dtype = DType::kFloat32;
      std::vector<double> d = raw ? raw_values<double>(t, count) : std::vector<double>(t.double_data().begin(), t.double_data().end());
      v.floats.assign(d.begin(), d.end());
      break;
    }
    case TensorProto::INT64:
      v.dtype = DType::kInt64;
      v.ints = raw ? raw_values<int64_t>(t, count) : std::vector<int64_t>(t.int64_data().begin(), t.int64_data().end());
      break;
    case TensorProto::INT32: {
      v.dtype = DType::kInt64;
      std::vector<int32_t> d = raw ? raw_values<int32_t>(t, count) : std::vector<int32_t>(t.int32_data().begin(), t.int32_data().end());
      v.ints.assign(d.begin(), d.end());
      break;
    }
    case TensorProto::BOOL: {
      v.dtype = DType::kBool;
      if (raw) {
        auto d = raw_values<uint8_t>(t, count);
        for (uint8_t b : d) v.ints.push_back(b != 0);
      } else {
        for (int32_t b : t.int32_data()) v.ints.push_back(b != 0);
      }
      break;
    }
    default:
      throw ConversionError("tensor '" + t.name() + "' has unsupported data type " + std::to_string(t.data_type()));
  }
  size_t have = v.dtype == DType::kFloat32 ? v.floats.size() : v.ints.size();
  if (have != count) throw ConversionError("tensor '" + t.name() + "': data size does not match its shape");
  return v;
}

// ONNX elem_type -> IR dtype for values computed at run time.
DType runtime_dtype(int elem_type, const std::string& what) {
  switch (elem_type) {
    case TensorProto::FLOAT: return DType::kFloat32;
    case TensorProto::INT64: return DType::kInt64;
    case TensorProto::BOOL: return DType::kBool;
    default: throw ConversionError(what + " has unsupported element type " + std::to_string(elem_type));
  }
}

// ---- node lowering -------------------------------------------------------------

class Importer {
 public:
  Importer(Graph& graph, int opset) : g_(graph), opset_(opset) {}

  void add_value(const std::string& name, int value) { value_of_[name] = value; }
  bool has_value(const std::string& name) const { return value_of_.count(name) != 0; }
  int value(const std::string& name) const {
    auto it = value_of_.find(name);
    if (it == value_of_.end()) throw ConversionError("input '" + name + "' is not produced by any node");
    return it->second;
  }

  void lower(const NodeProto& node);

 private:
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

  void lower_gather();
  void lower_reshape();
  void lower_gemm();
  void lower_matmul();
  void lower_batch_norm();
  void lower_slice();
  void lower_split();
  void lower_softmax();
  void lower_expand();
  void lower_constant_unary(const std::function<double(double)>& f);

  Graph& g_;
  int opset_;
  std::unordered_map<std::string, int> value_of_;
  const NodeProto* node_ = nullptr;
  std::string name_;
};

// IR shape of a tensor given as int64 shape data (kRowsSymbol -> kRows).
std::vector<int64_t> dims_from_shape_data(const std::vector<int64_t>& data) {
  std::vector<int64_t> dims;
  for (int64_t d : data) dims.push_back(d == kRowsSymbol ? kRows : d);
  return dims;
}

void Importer::lower(const NodeProto& node) {
  node_ = &node;
  name_ = node.name();
  const std::string& op = node.op_type();
  if (!node.domain().empty() && node.domain() != "ai.onnx") throw ConversionError("unsupported operator domain '" + node.domain() + "'");

  if (op == "Constant") {
    Value v;
    if (auto a = attr("value")) v = constant_from_tensor(a->t());
    else if (auto a = attr("value_float")) { v.is_constant = true; v.dtype = DType::kFloat32; v.floats = {a->f()}; }
    else if (auto a = attr("value_floats")) { v.is_constant = true; v.dtype = DType::kFloat32; v.floats.assign(a->floats().begin(), a->floats().end()); v.shape = {static_cast<int64_t>(v.floats.size())}; }
    else if (auto a = attr("value_int")) { v.is_constant = true; v.dtype = DType::kInt64; v.ints = {a->i()}; }
    else if (auto a = attr("value_ints")) { v.is_constant = true; v.dtype = DType::kInt64; v.ints.assign(a->ints().begin(), a->ints().end()); v.shape = {static_cast<int64_t>(v.ints.size())}; }
    else throw ConversionError("unsupported Constant attribute");
    v.name = g_.unique_name(out_name());
    g_.values.push_back(std::move(v));
    set_output(0, static_cast<int>(g_.values.size()) - 1);
  } else if (op == "Identity" || op == "Dropout") {
    set_output(0, in(0));
    if (op == "Dropout" && node.output_size() > 1 && !node.output(1).empty())
      throw ConversionError("the dropout mask output is not supported");
  } else if (op == "Cast") {
    int64_t to = attr_int("to", TensorProto::FLOAT);
    const Value& x = val(in(0));
    DType target;
    if (to == TensorProto::FLOAT || (to == TensorProto::DOUBLE && x.is_constant)) target = DType::kFloat32;
    else if (to == TensorProto::INT64 || (to == TensorProto::INT32 && x.is_constant)) target = DType::kInt64;
    else if (to == TensorProto::BOOL) target = DType::kBool;
    else throw ConversionError("cast to ONNX type " + std::to_string(to) + " is not supported");
    if (target == x.dtype) {
      set_output(0, in(0));
    } else {
      NodeOptions o;
      o.cast_to = target;
      set_output(0, emit(Op::kCast, {in(0)}, o));
    }
  } else if (op == "Shape") {
    const Value& x = val(in(0));
    std::vector<int64_t> data;
    for (int64_t d : x.shape) data.push_back(d == kRows ? kRowsSymbol : d);
    if (x.row_broadcast) data[0] = kRowsSymbol;
    int64_t rank = x.rank();
    int64_t start = attr_int("start", 0), end = attr_int("end", rank);
    if (start < 0) start += rank;
    if (end < 0) end += rank;
    start = std::clamp<int64_t>(start, 0, rank);
    end = std::clamp<int64_t>(end, start, rank);
    data = std::vector<int64_t>(data.begin() + start, data.begin() + end);
    int64_t n = static_cast<int64_t>(data.size());
    set_output(0, g_.add_int_constant(out_name(), DType::kInt64, {n}, data));
  } else if (op == "Gather") {
    lower_gather();
  } else if (op == "Unsqueeze") {
    auto axes = axes_from("axes", 1);
    if (!axes) throw ConversionError("Unsqueeze without axes");
    const Value& x = val(in(0));
    int64_t out_rank = x.rank() + static_cast<int64_t>(axes->size());
    std::vector<bool> inserted(out_rank, false);
    for (int64_t a : *axes) {
      int64_t n = normalize_axis(a, out_rank);
      if (inserted[n]) throw ConversionError("Unsqueeze axes repeat");
      inserted[n] = true;
    }
    if (x.is_activation() && inserted[0]) throw ConversionError("unsqueeze before the row dimension");
    std::vector<int64_t> shape;
    size_t next = 0;
    for (int64_t d = 0; d < out_rank; ++d) shape.push_back(inserted[d] ? 1 : x.shape[next++]);
    set_output(0, reshape(in(0), shape));
  } else if (op == "Squeeze") {
    auto axes = axes_from("axes", 1);
    const Value& x = val(in(0));
    std::vector<bool> removed(x.rank(), false);
    if (axes) {
      for (int64_t a : *axes) {
        int64_t n = normalize_axis(a, x.rank());
        if (x.is_activation() && n == 0) throw ConversionError("squeeze of the row dimension");
        if (x.shape[n] != 1) throw ConversionError("squeeze of a dimension that is not 1");
        removed[n] = true;
      }
    } else {
      for (int64_t d = x.is_activation() ? 1 : 0; d < x.rank(); ++d) removed[d] = x.shape[d] == 1;
    }
    std::vector<int64_t> shape;
    for (int64_t d = 0; d < x.rank(); ++d)
      if (!removed[d]) shape.push_back(x.shape[d]);
    set_output(0, reshape(in(0), shape));
  } else if (op == "Reshape") {
    lower_reshape();
  } else if (op == "Flatten") {
    const Value& x = val(in(0));
    int64_t axis = attr_int("axis", 1);
    if (axis < 0) axis += x.rank();
    if (axis < 0 || axis > x.rank()) throw ConversionError("flatten axis out of range");
    if (x.is_activation() && (axis == 0 || product(x.shape, 1, axis) != 1))
      throw ConversionError("flatten would merge the row dimension with others");
    std::vector<int64_t> shape;
    if (x.is_activation()) shape = {kRows, product(x.shape, axis)};
    else shape = {product(x.shape, 0, axis), product(x.shape, axis)};
    set_output(0, reshape(in(0), shape));
  } else if (op == "Concat") {
    std::vector<int> inputs;
    for (int i = 0; i < node.input_size(); ++i)
      if (has_input(i)) inputs.push_back(in(i));
    // Shape chains concatenate empty tensors sometimes: they add nothing.
    inputs.erase(std::remove_if(inputs.begin(), inputs.end(),
                                [&](int v) { return val(v).is_constant && val(v).rank() == 1 && val(v).shape[0] == 0 && inputs.size() > 1; }),
                 inputs.end());
    NodeOptions o;
    o.axis = attr_int("axis", 0);
    set_output(0, inputs.size() == 1 ? inputs[0] : emit(Op::kConcat, inputs, o));
  } else if (op == "Gemm") {
    lower_gemm();
  } else if (op == "MatMul") {
    lower_matmul();
  } else if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
    Op ir = op == "Add" ? Op::kAdd : op == "Sub" ? Op::kSub : op == "Mul" ? Op::kMul : Op::kDiv;
    set_output(0, emit(ir, {in(0), in(1)}));
  } else if (op == "Max" || op == "Min" || op == "Sum") {
    Op ir = op == "Max" ? Op::kMax : op == "Min" ? Op::kMin : Op::kAdd;
    int acc = in(0);
    for (int i = 1; i < node.input_size(); ++i)
      acc = i + 1 == node.input_size() ? emit(ir, {acc, in(i)}) : emit_tmp(ir, {acc, in(i)});
    set_output(0, acc);
  } else if (op == "Neg") {
    int minus_one = float_constant({}, {-1.0f}, "_minus_one");
    if (val(in(0)).dtype != DType::kFloat32) throw ConversionError("Neg needs float32");
    set_output(0, emit(Op::kMul, {in(0), minus_one}));
  } else if (op == "Relu" || op == "Sigmoid" || op == "Tanh") {
    set_output(0, emit(op == "Relu" ? Op::kRelu : op == "Sigmoid" ? Op::kSigmoid : Op::kTanh, {in(0)}));
  } else if (op == "LeakyRelu") {
    NodeOptions o;
    o.alpha = attr_float("alpha", 0.01f);
    set_output(0, emit(Op::kLeakyRelu, {in(0)}, o));
  } else if (op == "PRelu") {
    constant_input(1, "PRelu slope");
    set_output(0, emit(Op::kPRelu, {in(0), in(1)}));
  } else if (op == "Clip") {
    NodeOptions o;
    if (opset_ < 11) {
      o.clip_min = attr_float("min", o.clip_min);
      o.clip_max = attr_float("max", o.clip_max);
    } else {
      if (has_input(1)) o.clip_min = float_scalar_input(1, "Clip min");
      if (has_input(2)) o.clip_max = float_scalar_input(2, "Clip max");
    }
    set_output(0, emit(Op::kClip, {in(0)}, o));
  } else if (op == "Softmax") {
    lower_softmax();
  } else if (op == "ReduceSum" || op == "ReduceMean") {
    const Value& x = val(in(0));
    // Axes became an input in opset 13 for ReduceSum, in 18 for the others.
    auto axes = (op == "ReduceSum" && opset_ >= 13) || opset_ >= 18 ? axes_from("axes", 1) : attr_ints("axes");
    NodeOptions o;
    o.keepdims = attr_int("keepdims", 1) != 0;
    if (!axes || axes->empty()) {
      if (attr_int("noop_with_empty_axes", 0)) { set_output(0, in(0)); return; }
      for (int64_t d = 0; d < x.rank(); ++d) o.axes.push_back(d);
    } else {
      o.axes = *axes;
    }
    set_output(0, emit(op == "ReduceSum" ? Op::kReduceSum : Op::kReduceMean, {in(0)}, o));
  } else if (op == "Equal") {
    set_output(0, emit(Op::kEqual, {in(0), in(1)}));
  } else if (op == "Not") {
    set_output(0, emit(Op::kNot, {in(0)}));
  } else if (op == "Where") {
    set_output(0, emit(Op::kWhere, {in(0), in(1), in(2)}));
  } else if (op == "Transpose") {
    const Value& x = val(in(0));
    NodeOptions o;
    if (auto perm = attr_ints("perm")) o.axes = *perm;
    else for (int64_t d = x.rank(); d-- > 0;) o.axes.push_back(d);
    bool identity = true;
    for (size_t d = 0; d < o.axes.size(); ++d) identity &= o.axes[d] == static_cast<int64_t>(d);
    set_output(0, identity ? in(0) : emit(Op::kTranspose, {in(0)}, o));
  } else if (op == "Slice") {
    lower_slice();
  } else if (op == "Split") {
    lower_split();
  } else if (op == "BatchNormalization") {
    lower_batch_norm();
  } else if (op == "Expand") {
    lower_expand();
  } else if (op == "ConstantOfShape") {
    auto shape = int_list_input(0, "ConstantOfShape shape");
    // The row count can only be dimension 0; the rows are all equal, so one row
    // broadcast by the elementwise ops that read it is exact.
    bool row_broadcast = !shape.empty() && shape[0] == kRowsSymbol;
    if (row_broadcast) shape[0] = 1;
    for (int64_t d : shape)
      if (d == kRowsSymbol || d < 0) throw ConversionError("ConstantOfShape shape " + shape_string(dims_from_shape_data(shape)) + " is not supported");
    Value fill;
    if (auto a = attr("value")) fill = constant_from_tensor(a->t());
    else { fill.dtype = DType::kFloat32; fill.floats = {0.0f}; }
    int64_t n = product(shape);
    int v = fill.dtype == DType::kFloat32
                ? g_.add_float_constant(out_name(), shape, std::vector<float>(n, fill.floats.at(0)))
                : g_.add_int_constant(out_name(), fill.dtype, shape, std::vector<int64_t>(n, fill.ints.at(0)));
    g_.values[v].row_broadcast = row_broadcast;
    set_output(0, v);
  } else if (op == "Sqrt") {
    lower_constant_unary([](double x) { return std::sqrt(x); });
  } else if (op == "Exp") {
    lower_constant_unary([](double x) { return std::exp(x); });
  } else if (op == "Log") {
    lower_constant_unary([](double x) { return std::log(x); });
  } else if (op == "Reciprocal") {
    lower_constant_unary([](double x) { return 1.0 / x; });
  } else if (op == "Abs") {
    lower_constant_unary([](double x) { return std::fabs(x); });
  } else {
    throw ConversionError("unsupported operator");
  }
}

// Ops the runtime lacks are fine on constants: they are computed here.
void Importer::lower_constant_unary(const std::function<double(double)>& f) {
  const Value& x = val(in(0));
  if (!x.is_constant || x.dtype != DType::kFloat32)
    throw ConversionError("only supported on float constants (the runtime has no such operator)");
  std::vector<float> data;
  for (float v : x.floats) data.push_back(static_cast<float>(f(v)));
  set_output(0, g_.add_float_constant(out_name(), x.shape, data));
}

// A value's name, dtype and shape without its data.
Value described(const Value& v) {
  Value d;
  d.name = v.name;
  d.dtype = v.dtype;
  d.shape = v.shape;
  d.is_constant = v.is_constant;
  return d;
}

void Importer::lower_gather() {
  const int data = in(0), indices = in(1);
  // Copies without data: emitting below may reallocate the value list.
  const Value d = described(val(data));
  const Value idx = val(indices).is_constant ? val(indices) : described(val(indices));
  int64_t axis = normalize_axis(attr_int("axis", 0), d.rank());
  if (idx.dtype != DType::kInt64) throw ConversionError("gather indices must be integers");
  if (idx.is_constant) {
    // Column taking (or shape element picking): TAKE, then RESHAPE to the index shape.
    std::vector<int64_t> flat;
    for (int64_t i : idx.ints) {
      int64_t n = i < 0 ? i + d.shape[axis] : i;
      if (n < 0 || n >= d.shape[axis]) throw ConversionError("gather index out of range");
      flat.push_back(n);
    }
    std::vector<int64_t> out_shape(d.shape.begin(), d.shape.begin() + axis);
    out_shape.insert(out_shape.end(), idx.shape.begin(), idx.shape.end());
    out_shape.insert(out_shape.end(), d.shape.begin() + axis + 1, d.shape.end());
    bool plain = idx.rank() == 1;
    int taken = take(data, axis, flat, 0, plain);
    set_output(0, plain ? taken : reshape(taken, out_shape));
    return;
  }
  // Embedding lookup: a constant table indexed by ids computed at run time.
  if (!d.is_constant) throw ConversionError("gather of an activation with run-time indices is not supported");
  if (axis != 0) throw ConversionError("embedding lookup must gather along axis 0 of the table");
  if (d.dtype != DType::kFloat32) throw ConversionError("embedding table must be float32");
  int table = data;
  std::vector<int64_t> row_shape(d.shape.begin() + 1, d.shape.end());
  if (d.rank() != 2) {
    NodeOptions o;
    o.shape = {d.shape[0], product(row_shape)};
    table = g_.emit(Op::kReshape, {data}, o, name_, d.name + "_2d");
  }
  int looked_up = d.rank() == 2 ? emit(Op::kEmbedding, {table, indices}) : emit_tmp(Op::kEmbedding, {table, indices});
  if (d.rank() != 2) {
    std::vector<int64_t> shape = idx.shape;
    shape.insert(shape.end(), row_shape.begin(), row_shape.end());
    looked_up = reshape(looked_up, shape);
  }
  set_output(0, looked_up);
}

void Importer::lower_reshape() {
  const Value& x = val(in(0));
  std::vector<int64_t> target = int_list_input(1, "Reshape shape");
  const bool allow_zero = attr_int("allowzero", 0) != 0;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == 0 && !allow_zero) {
      if (static_cast<int64_t>(i) >= x.rank()) throw ConversionError("reshape copies a dimension the input lacks");
      target[i] = x.shape[i] == kRows ? kRowsSymbol : x.shape[i];
    }
  }
  int64_t inferred = -1;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == kRowsSymbol && i != 0) throw ConversionError("reshape moves the row count away from dimension 0");
    if (target[i] == -1) {
      if (inferred >= 0) throw ConversionError("reshape with two -1");
      inferred = static_cast<int64_t>(i);
    }
  }
  if (x.is_activation()) {
    if (target.empty()) throw ConversionError("reshape of an activation to a scalar");
    std::vector<int64_t> rest(target.begin() + 1, target.end());
    const int64_t per_row = x.elements_per_row();
    if (inferred == 0) {
      // view(-1, d...): the -1 is the row count only when the rest is one row.
      if (product(rest) != per_row)
        throw ConversionError("reshape " + shape_string(x.shape) + " -> [-1," + shape_string(rest).substr(1) +
                              " changes the number of rows");
    } else if (target[0] != kRowsSymbol) {
      throw ConversionError("reshape does not keep the row count in dimension 0 (use x.view(x.size(0), ...))");
    } else if (inferred > 0) {
      int64_t known = 1;
      for (size_t i = 1; i < target.size(); ++i)
        if (static_cast<int64_t>(i) != inferred) known *= target[i];
      if (known == 0 || per_row % known != 0) throw ConversionError("reshape sizes do not divide");
      target[inferred] = per_row / known;
    }
    target[0] = kRows;
  } else {
    if (std::find(target.begin(), target.end(), kRowsSymbol) != target.end())
      throw ConversionError("reshape of a constant to a shape with the row count");
    if (inferred >= 0) {
      int64_t known = 1;
      for (size_t i = 0; i < target.size(); ++i)
        if (static_cast<int64_t>(i) != inferred) known *= target[i];
      if (known == 0 || product(x.shape) % known != 0) throw ConversionError("reshape sizes do not divide");
      target[inferred] = product(x.shape) / known;
    }
  }
  set_output(0, reshape(in(0), target));
}

// Transposes a constant [K,N] matrix into the FC weight layout [N,K].
std::vector<float> transpose_2d(const Value& m) {
  const int64_t rows = m.shape[0], cols = m.shape[1];
  std::vector<float> t(m.floats.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) t[c * rows + r] = m.floats[r * cols + c];
  return t;
}

void Importer::lower_gemm() {
  const Value& a = val(in(0));
  const Value b = val(in(1));  // a copy: emitting may reallocate the value list
  const float alpha = attr_float("alpha", 1.0f), beta = attr_float("beta", 1.0f);
  const bool trans_a = attr_int("transA", 0) != 0, trans_b = attr_int("transB", 0) != 0;
  if (a.rank() != 2 || b.rank() != 2) throw ConversionError("Gemm inputs must be matrices");
  if (a.is_activation() && trans_a) throw ConversionError("Gemm transposes the rows of its input");
  if (!b.is_constant) throw ConversionError("Gemm with a run-time right-hand side is not supported");
  if (b.dtype != DType::kFloat32) throw ConversionError("Gemm needs float32");
  int x = in(0);
  if (a.is_constant && trans_a) {
    NodeOptions o;
    o.axes = {1, 0};
    x = emit_tmp(Op::kTranspose, {x}, o);
  }
  // weight [N,K]
  const int64_t n = trans_b ? b.shape[0] : b.shape[1], k = trans_b ? b.shape[1] : b.shape[0];
  std::vector<float> w = trans_b ? b.floats : transpose_2d(b);
  if (alpha != 1.0f)
    for (float& v : w) v *= alpha;
  int weight = float_constant({n, k}, w, "_weight");
  std::vector<int> inputs = {x, weight};
  int bias_activation = -1;
  if (has_input(2)) {
    const Value& c = val(in(2));
    bool per_column = c.is_constant && c.dtype == DType::kFloat32 &&
                      (c.floats.size() == 1 || (!c.shape.empty() && c.shape.back() == n && product(c.shape) == n));
    if (per_column) {
      std::vector<float> bias(n);
      for (int64_t j = 0; j < n; ++j) bias[j] = beta * c.floats[c.floats.size() == 1 ? 0 : j];
      inputs.push_back(float_constant({n}, bias, "_bias"));
    } else {
      bias_activation = in(2);
    }
  }
  if (bias_activation < 0) {
    set_output(0, emit(Op::kFullyConnected, inputs));
    return;
  }
  int product_value = emit_tmp(Op::kFullyConnected, inputs);
  int c = bias_activation;
  if (beta != 1.0f) c = emit_tmp(Op::kMul, {c, float_constant({}, {beta}, "_beta")});
  set_output(0, emit(Op::kAdd, {product_value, c}));
}

void Importer::lower_matmul() {
  const Value& a = val(in(0));
  const Value& b = val(in(1));
  const std::vector<int64_t> a_shape = a.shape;
  if (a.dtype != DType::kFloat32 || b.dtype != DType::kFloat32) throw ConversionError("MatMul needs float32");
  if (a.rank() == 0 || b.rank() == 0) throw ConversionError("MatMul of a scalar");
  if (a.is_activation() && b.is_constant && b.rank() <= 2) {
    if (b.rank() == 2) {
      int weight = float_constant({b.shape[1], b.shape[0]}, transpose_2d(b), "_weight");
      set_output(0, emit(Op::kFullyConnected, {in(0), weight}));
    } else {
      int weight = float_constant({1, b.shape[0]}, b.floats, "_weight");
      int fc = emit_tmp(Op::kFullyConnected, {in(0), weight});
      std::vector<int64_t> shape(a_shape.begin(), a_shape.end() - 1);
      set_output(0, reshape(fc, shape));
    }
    return;
  }
  if (a.rank() < 2 || b.rank() < 2) throw ConversionError("MatMul of vectors is only supported with a constant right-hand side");
  set_output(0, emit(Op::kMatMul, {in(0), in(1)}));
}

void Importer::lower_batch_norm() {
  const Value& x = val(in(0));
  if (attr_int("training_mode", 0) != 0) throw ConversionError("BatchNormalization in training mode");
  if (node_->output_size() > 1) {
    for (int i = 1; i < node_->output_size(); ++i)
      if (!node_->output(i).empty()) throw ConversionError("BatchNormalization running statistics outputs are not supported");
  }
  const Value& scale = constant_input(1, "BatchNormalization scale");
  const Value& bias = constant_input(2, "BatchNormalization bias");
  const Value& mean = constant_input(3, "BatchNormalization mean");
  const Value& var = constant_input(4, "BatchNormalization variance");
  const double epsilon = attr_float("epsilon", 1e-5f);
  if (x.rank() < 2) throw ConversionError("BatchNormalization needs a channel dimension");
  const int64_t channels = x.shape[1];
  for (const Value* p : {&scale, &bias, &mean, &var})
    if (static_cast<int64_t>(p->floats.size()) != channels) throw ConversionError("BatchNormalization parameters do not match channels");
  std::vector<float> s(channels), t(channels);
  for (int64_t c = 0; c < channels; ++c) {
    double factor = scale.floats[c] / std::sqrt(double(var.floats[c]) + epsilon);
    s[c] = static_cast<float>(factor);
    t[c] = static_cast<float>(bias.floats[c] - mean.floats[c] * factor);
  }
  // Channel axis 1: constants [C, 1, ...] broadcast over the trailing dims.
  std::vector<int64_t> shape = {channels};
  for (int64_t d = 2; d < x.rank(); ++d) shape.push_back(1);
  int scaled = emit_tmp(Op::kMul, {in(0), float_constant(shape, s, "_scale")});
  set_output(0, emit(Op::kAdd, {scaled, float_constant(shape, t, "_shift")}));
}

// Python-style slice of a dimension of size `dim`.
std::vector<int64_t> slice_indices(int64_t dim, int64_t start, int64_t end, int64_t step) {
  if (step == 0) throw ConversionError("slice step 0");
  std::vector<int64_t> out;
  if (step > 0) {
    start = start < 0 ? std::max<int64_t>(start + dim, 0) : std::min(start, dim);
    end = end < 0 ? std::max<int64_t>(end + dim, 0) : std::min(end, dim);
    for (int64_t i = start; i < end; i += step) out.push_back(i);
  } else {
    start = start < 0 ? std::max<int64_t>(start + dim, -1) : std::min(start, dim - 1);
    end = end < 0 ? std::max<int64_t>(end + dim, -1) : std::min(end, dim - 1);
    for (int64_t i = start; i > end; i += step) out.push_back(i);
  }
  return out;
}

void Importer::lower_slice() {
  const Value& x = val(in(0));
  auto starts = int_list_input(1, "Slice starts");
  auto ends = int_list_input(2, "Slice ends");
  std::vector<int64_t> axes, steps;
  if (has_input(3)) axes = int_list_input(3, "Slice axes");
  else for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (has_input(4)) steps = int_list_input(4, "Slice steps");
  else steps.assign(starts.size(), 1);
  if (starts.size() != ends.size() || axes.size() != starts.size() || steps.size() != starts.size())
    throw ConversionError("Slice parameters differ in length");
  int current = in(0);
  std::vector<std::pair<int64_t, std::vector<int64_t>>> takes;
  for (size_t i = 0; i < axes.size(); ++i) {
    int64_t axis = normalize_axis(axes[i], x.rank());
    if (x.is_activation() && axis == 0) {
      bool whole = steps[i] == 1 && starts[i] == 0 && ends[i] >= (int64_t(1) << 31) - 1;
      if (!whole) throw ConversionError("slice along the row dimension");
      continue;
    }
    auto idx = slice_indices(x.shape[axis], starts[i], ends[i], steps[i]);
    bool identity = static_cast<int64_t>(idx.size()) == x.shape[axis];
    for (size_t j = 0; j < idx.size() && identity; ++j) identity = idx[j] == static_cast<int64_t>(j);
    if (!identity) takes.emplace_back(axis, idx);
  }
  for (size_t i = 0; i < takes.size(); ++i)
    current = take(current, takes[i].first, takes[i].second, 0, i + 1 == takes.size());
  set_output(0, current);
}

void Importer::lower_split() {
  const Value& x = val(in(0));
  int64_t axis = normalize_axis(attr_int("axis", 0), x.rank());
  std::vector<int64_t> sizes;
  if (auto s = attr_ints("split")) sizes = *s;
  else if (has_input(1)) sizes = int_list_input(1, "Split sizes");
  else {
    int64_t parts = node_->output_size();
    if (x.shape[axis] % parts != 0) throw ConversionError("uneven Split without sizes");
    sizes.assign(parts, x.shape[axis] / parts);
  }
  if (static_cast<int>(sizes.size()) != node_->output_size()) throw ConversionError("Split sizes do not match outputs");
  const int64_t dim = x.shape[axis];
  int64_t begin = 0;
  for (size_t o = 0; o < sizes.size(); ++o) {
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < sizes[o]; ++i) idx.push_back(begin + i);
    begin += sizes[o];
    set_output(o, take(in(0), axis, idx, o, true));
  }
  if (begin != dim) throw ConversionError("Split sizes do not add up");
}

void Importer::lower_softmax() {
  const Value& x = val(in(0));
  int64_t axis = normalize_axis(attr_int("axis", opset_ < 13 ? 1 : -1), x.rank());
  if (x.is_activation() && axis == 0) throw ConversionError("softmax over the row dimension");
  NodeOptions o;
  // Before opset 13 Softmax normalizes over all dims from `axis` on.
  if (opset_ >= 13 || axis == x.rank() - 1 || product(x.shape, axis + 1) == 1) {
    o.axis = axis;
    set_output(0, emit(Op::kSoftmax, {in(0)}, o));
    return;
  }
  std::vector<int64_t> flat(x.shape.begin(), x.shape.begin() + axis);
  flat.push_back(product(x.shape, axis));
  const std::vector<int64_t> shape = x.shape;
  int flattened = reshape(in(0), flat, 0, false);
  o.axis = axis;
  int soft = emit_tmp(Op::kSoftmax, {flattened}, o);
  set_output(0, reshape(soft, shape));
}

void Importer::lower_expand() {
  const Value& x = val(in(0));
  auto target = dims_from_shape_data(int_list_input(1, "Expand shape"));
  std::vector<int64_t> out;
  // Expand broadcasts both ways (a target dim of 1 keeps the input's).
  {
    std::vector<int64_t> t = target, s = x.shape;
    size_t rank = std::max(t.size(), s.size());
    t.insert(t.begin(), rank - t.size(), 1);
    s.insert(s.begin(), rank - s.size(), 1);
    for (size_t i = 0; i < rank; ++i) {
      if (s[i] == t[i] || t[i] == 1) out.push_back(s[i]);
      else if (s[i] == 1) out.push_back(t[i]);
      else throw ConversionError("Expand shapes do not broadcast");
    }
  }
  if (out == x.shape) { set_output(0, in(0)); return; }
  if (x.row_broadcast) throw ConversionError("Expand of a constant with equal rows is not supported");
  // A constant expanded to the rows has equal rows: keep one (see ConstantOfShape).
  const bool row_broadcast = x.is_constant && !out.empty() && out[0] == kRows;
  if (row_broadcast) out[0] = 1;
  if (std::find(out.begin(), out.end(), kRows) != out.end() && (x.is_constant || out.size() != x.shape.size() || out[0] != kRows))
    throw ConversionError("Expand creates or moves the row dimension");
  if (x.is_constant) {
    auto offsets = broadcast_offsets(x.shape, out);
    Value v;
    v.is_constant = true;
    v.dtype = x.dtype;
    v.shape = out;
    for (int64_t o : offsets) {
      if (x.dtype == DType::kFloat32) v.floats.push_back(x.floats[o]);
      else v.ints.push_back(x.ints[o]);
    }
    v.name = g_.unique_name(out_name());
    v.row_broadcast = row_broadcast;
    g_.values.push_back(std::move(v));
    set_output(0, static_cast<int>(g_.values.size()) - 1);
    return;
  }
  if (x.dtype != DType::kFloat32) throw ConversionError("Expand of a non-float activation is not supported");
  // x + 0 broadcast to the target shape is exactly the expansion.
  std::vector<int64_t> zeros_shape = out;
  zeros_shape[0] = 1;
  int zeros = float_constant(zeros_shape, std::vector<float>(product(zeros_shape), 0.0f), "_zeros");
  set_output(0, emit(Op::kAdd, {in(0), zeros}));
}

Graph import_model(const onnx::ModelProto& model, const ImportOptions& options) {
  int opset = -1;
  for (const auto& o : model.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") opset = static_cast<int>(o.version());
  if (opset < 0) throw ConversionError("the model does not import the default ONNX opset");
  if (opset < 11 || opset > 18) throw ConversionError("unsupported opset " + std::to_string(opset) + " (11 to 17 are supported)");
  const onnx::GraphProto& graph = model.graph();
  Graph g;
  Importer importer(g, opset);
  for (const auto& t : graph.initializer()) {
    Value v = constant_from_tensor(t);
    v.name = g.unique_name(t.name());
    g.values.push_back(std::move(v));
    importer.add_value(t.name(), static_cast<int>(g.values.size()) - 1);
  }
  std::vector<int> input_values;
  std::vector<std::string> input_names;
  for (const auto& input : graph.input()) {
    if (importer.has_value(input.name())) continue;  // an initializer listed as input
    const std::string what = "input '" + input.name() + "'";
    if (!input.type().has_tensor_type()) throw ConversionError(what + " is not a tensor");
    const auto& tt = input.type().tensor_type();
    DType dtype = runtime_dtype(tt.elem_type(), what);
    std::vector<int64_t> shape;
    for (int d = 0; d < tt.shape().dim_size(); ++d) {
      const auto& dim = tt.shape().dim(d);
      if (d == 0) shape.push_back(kRows);
      else if (dim.has_dim_value() && dim.dim_value() > 0) shape.push_back(dim.dim_value());
      else throw ConversionError(what + " has a dynamic dimension " + std::to_string(d) + " (only dimension 0, the rows, may be dynamic)");
    }
    if (shape.empty()) throw ConversionError(what + " is a scalar (inputs need a row dimension)");
    int v = g.add_activation(input.name(), dtype, shape);
    importer.add_value(input.name(), v);
    input_values.push_back(v);
    input_names.push_back(input.name());
  }
  for (int i = 0; i < graph.node_size(); ++i) {
    const NodeProto& node = graph.node(i);
    NodeProto named = node;
    if (named.name().empty()) named.set_name(node.op_type() + "_" + std::to_string(i));
    try {
      importer.lower(named);
    } catch (const ConversionError& e) {
      throw ConversionError("node '" + named.name() + "' (" + named.op_type() + "): " + e.what());
    }
  }
  std::vector<std::pair<std::string, int>> outputs;
  for (const auto& output : graph.output()) outputs.emplace_back(output.name(), importer.value(output.name()));
  assign_features(g, input_names, input_values, options.user_inputs);
  assign_tasks(g, outputs, options.tasks);
  apply_oov_row(g, options.oov_row);
  g.compact();
  return g;
}

}  // namespace

Graph import_onnx_bytes(const std::string& bytes, const ImportOptions& options) {
  onnx::ModelProto model;
  if (!model.ParseFromString(bytes)) throw ConversionError("not a valid ONNX model (protobuf parse failed)");
  return import_model(model, options);
}

Graph import_onnx_file(const std::string& path, const ImportOptions& options) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw ConversionError("cannot open '" + path + "'");
  std::ostringstream contents;
  contents << file.rdbuf();
  return import_onnx_bytes(contents.str(), options);
}

}  // namespace edgemtl::converter
