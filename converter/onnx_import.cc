#include "converter/onnx_import.h"

#include <onnx/onnx_pb.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "converter/import/importer.h"
#include "converter/signature.h"

namespace edgemtl::converter {

using onnx::NodeProto;
using onnx::TensorProto;

namespace {

template <typename T>
std::vector<T> raw_values(const TensorProto& t, size_t count) {
  // Compared in elements: count * sizeof(T) could wrap.
  if (t.raw_data().size() % sizeof(T) != 0 || t.raw_data().size() / sizeof(T) != count)
    throw ConversionError("tensor '" + t.name() + "': raw data size mismatch");
  std::vector<T> out(count);
  std::memcpy(out.data(), t.raw_data().data(), count * sizeof(T));
  return out;
}

}  // namespace

Value constant_from_tensor(const TensorProto& t) {
  if (t.data_location() == TensorProto::EXTERNAL)
    throw ConversionError("tensor '" + t.name() + "' uses external data (save the model with weights inside)");
  Value v;
  v.name = t.name();
  v.is_constant = true;
  for (int64_t d : t.dims()) v.shape.push_back(d);
  // Before any data is read or allocated: dims whose product wraps could
  // match an empty data field and make a huge shape without data.
  const size_t count = static_cast<size_t>(checked_element_count(v.shape, "tensor '" + t.name() + "'"));
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

void Importer::lower(const NodeProto& node) {
  node_ = &node;
  name_ = node.name();
  if (!node.domain().empty() && node.domain() != "ai.onnx") throw ConversionError("unsupported operator domain '" + node.domain() + "'");
  OnnxHandler handler = onnx_handler(node.op_type());
  if (!handler) throw ConversionError("unsupported operator");
  handler(*this);
}

namespace {

// ONNX elem_type -> IR dtype for values computed at run time.
DType runtime_dtype(int elem_type, const std::string& what) {
  switch (elem_type) {
    case TensorProto::FLOAT: return DType::kFloat32;
    case TensorProto::INT64: return DType::kInt64;
    case TensorProto::BOOL: return DType::kBool;
    default: throw ConversionError(what + " has unsupported element type " + std::to_string(elem_type));
  }
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
