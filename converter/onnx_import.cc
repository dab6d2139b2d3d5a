#include "converter/onnx_import.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstring>
#include <unordered_set>
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
  const std::string& type = node.op_type();
  for (const std::string& input : node.input())
    if (widened_.count(input) && type != "IsInf" && type != "IsNaN" && type != "Cast")
      throw ConversionError("reads '" + input + "', a float32 value cast to double (only IsInf, IsNaN and Cast " +
                            "may read it: the runtime has no float64)");
  if (moves_rows(*this)) lower_moved_rows(*this);
  else handler(*this);
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

template <typename T>
const T* find_named(const std::vector<std::pair<std::string, T>>& list, const std::string& name) {
  for (const auto& entry : list)
    if (entry.first == name) return &entry.second;
  return nullptr;
}

// Every value name read by the nodes of `graph` and of their subgraphs.
void names_read(const onnx::GraphProto& graph, std::unordered_set<std::string>* names) {
  for (const NodeProto& node : graph.node()) {
    for (const std::string& input : node.input()) names->insert(input);
    for (const auto& a : node.attribute()) {
      if (a.has_g()) names_read(a.g(), names);
      for (const auto& g : a.graphs()) names_read(g, names);
    }
  }
}

// Which nodes compute something the kept outputs need (the others are not
// lowered): an EmbeddingBag Loop needs only its ids, weights and table, not
// the offset computation around it.
std::vector<bool> live_nodes(const onnx::GraphProto& graph, const std::vector<std::string>& outputs,
                             const OnnxProducer& producer) {
  std::unordered_set<std::string> needed(outputs.begin(), outputs.end());
  std::vector<bool> live(graph.node_size(), false);
  for (int i = graph.node_size() - 1; i >= 0; --i) {
    const NodeProto& node = graph.node(i);
    for (const std::string& output : node.output()) live[i] = live[i] || needed.count(output) != 0;
    if (!live[i]) continue;
    BagLoop bag;
    if (match_bag_loop(node, producer, &bag)) {
      needed.insert({bag.table, bag.ids, bag.weights});
      continue;
    }
    for (const std::string& input : node.input()) needed.insert(input);
    for (const auto& a : node.attribute()) {
      if (a.has_g()) names_read(a.g(), &needed);
      for (const auto& g : a.graphs()) names_read(g, &needed);
    }
  }
  return live;
}

// --fix-input: the input as a constant with one row, every element `value`.
Value fixed_input(const onnx::ValueInfoProto& input, DType dtype, const std::vector<int64_t>& shape, double value) {
  Value v;
  v.name = input.name();
  v.dtype = dtype;
  v.is_constant = true;
  v.shape = shape;
  v.shape[0] = 1;
  const size_t count = static_cast<size_t>(product(v.shape));
  if (dtype == DType::kFloat32) {
    v.floats.assign(count, static_cast<float>(value));
  } else {
    if (dtype != DType::kInt64 || value != static_cast<double>(static_cast<int64_t>(value)))
      throw ConversionError("--fix-input " + input.name() + ": the input holds " + dtype_name(dtype) +
                            ", the value must be an integer");
    v.ints.assign(count, static_cast<int64_t>(value));
  }
  return v;
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
  std::unordered_set<std::string> graph_inputs;
  for (const auto& input : graph.input()) {
    if (importer.has_value(input.name())) continue;  // an initializer listed as input
    graph_inputs.insert(input.name());
    const std::string what = "input '" + input.name() + "'";
    if (!input.type().has_tensor_type()) throw ConversionError(what + " is not a tensor");
    const auto& tt = input.type().tensor_type();
    DType dtype = runtime_dtype(tt.elem_type(), what);
    std::vector<int64_t> shape;
    const int64_t* fixed_length = find_named(options.input_shapes, input.name());
    for (int d = 0; d < tt.shape().dim_size(); ++d) {
      const auto& dim = tt.shape().dim(d);
      if (d == 0) shape.push_back(kRows);
      else if (dim.has_dim_value() && dim.dim_value() > 0) shape.push_back(dim.dim_value());
      else if (fixed_length) shape.push_back(*fixed_length);
      else throw ConversionError(what + " has a dynamic dimension " + std::to_string(d) +
                                 " (only dimension 0, the rows, may be dynamic): give its length with --input-shape " +
                                 input.name() + "=L");
    }
    if (shape.empty()) throw ConversionError(what + " is a scalar (inputs need a row dimension)");
    if (const double* value = find_named(options.fixed_inputs, input.name())) {
      Value constant = fixed_input(input, dtype, shape, *value);
      constant.name = g.unique_name(input.name());
      g.values.push_back(std::move(constant));
      importer.add_value(input.name(), static_cast<int>(g.values.size()) - 1);
      continue;
    }
    int v = g.add_activation(input.name(), dtype, shape);
    importer.add_value(input.name(), v);
    input_values.push_back(v);
    input_names.push_back(input.name());
  }
  for (const auto& [name, length] : options.input_shapes) {
    if (!graph_inputs.count(name)) throw ConversionError("--input-shape names '" + name + "', which is not a model input");
    if (length < 1) throw ConversionError("--input-shape " + name + "=" + std::to_string(length) + ": lengths are >= 1");
  }
  for (const auto& entry : options.fixed_inputs)
    if (!graph_inputs.count(entry.first))
      throw ConversionError("--fix-input names '" + entry.first + "', which is not a model input");
  for (const std::string& name : options.user_inputs)
    if (find_named(options.fixed_inputs, name))
      throw ConversionError("input '" + name + "' is both fixed (--fix-input) and a user input (--user-inputs)");
  std::vector<std::string> output_names;
  for (const auto& output : graph.output())
    if (options.outputs.empty() ||
        std::find(options.outputs.begin(), options.outputs.end(), output.name()) != options.outputs.end())
      output_names.push_back(output.name());
  for (const std::string& name : options.outputs) {
    bool found = false;
    for (const auto& output : graph.output()) found = found || output.name() == name;
    if (!found) throw ConversionError("--outputs names '" + name + "', which is not a model output");
  }
  std::unordered_map<std::string, const NodeProto*> producers;
  for (const NodeProto& node : graph.node())
    for (const std::string& output : node.output()) producers[output] = &node;
  importer.set_producers([&producers](const std::string& name) -> const NodeProto* {
    auto found = producers.find(name);
    return found == producers.end() ? nullptr : found->second;
  });
  const std::vector<bool> live = live_nodes(graph, output_names, importer.producers());
  // Every unsupported node at once (one line each, as the single error reads),
  // before lowering any: a new user sees the whole list in one run.
  std::string unsupported;
  int unsupported_count = 0;
  for (int i = 0; i < graph.node_size(); ++i) {
    if (!live[i]) continue;  // not needed: pruned by --outputs, or a bag Loop's offsets
    const NodeProto& node = graph.node(i);
    const bool foreign = !node.domain().empty() && node.domain() != "ai.onnx";
    if (!foreign && onnx_handler(node.op_type())) continue;
    const std::string name = node.name().empty() ? node.op_type() + "_" + std::to_string(i) : node.name();
    if (unsupported_count++) unsupported += "\n";
    unsupported += "node '" + name + "' (" + node.op_type() + "): " +
                   (foreign ? "unsupported operator domain '" + node.domain() + "'" : std::string("unsupported operator"));
  }
  if (unsupported_count > 1)
    throw ConversionError(std::to_string(unsupported_count) + " unsupported operators:\n" + unsupported);
  if (unsupported_count == 1) throw ConversionError(unsupported);
  for (int i = 0; i < graph.node_size(); ++i) {
    if (!live[i]) continue;
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
  for (const std::string& name : output_names) {
    importer.expect_rows_first(name);
    const int v = importer.value(name);
    if (!g.values[v].is_activation())
      throw ConversionError("output '" + name + "' is a constant once the fixed inputs are folded (--fix-input)");
    outputs.emplace_back(name, v);
  }
  assign_features(g, input_names, input_values, options.user_inputs);
  for (Feature& f : g.features) {
    if (f.kind != FeatureKind::kIdList) continue;
    f.pad_before = options.pad_lists_before;
    f.keep_last = options.keep_last_ids;
  }
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
