#include "converter/ir.h"

#include <algorithm>
#include <numeric>
#include <queue>
#include <sstream>

#include "converter/ir_ops/ir_ops.h"

namespace edgemtl::converter {

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return "float32";
    case DType::kInt64: return "int64";
    case DType::kBool: return "bool";
  }
  return "?";
}

const char* op_name(Op op) {
  switch (op) {
#define EDGEMTL_CONVERTER_OP_NAME(ir, schema) \
  case Op::ir: return #schema;
    EDGEMTL_CONVERTER_OPS(EDGEMTL_CONVERTER_OP_NAME)
#undef EDGEMTL_CONVERTER_OP_NAME
  }
  return "?";
}

int64_t normalize_axis(int64_t axis, int64_t rank) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    throw ConversionError("axis " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
  return a;
}

int64_t product(const std::vector<int64_t>& dims, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < std::min(end, dims.size()); ++i) p *= dims[i];
  return p;
}

int64_t checked_element_count(const std::vector<int64_t>& shape, const std::string& what, int64_t limit) {
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0) throw ConversionError(what + ": shape " + shape_string(shape) + " has a negative dimension");
    if (__builtin_mul_overflow(count, d, &count))
      throw ConversionError(what + ": shape " + shape_string(shape) + " has more than 2^63 elements");
  }
  if (limit > 0 && count > limit)
    throw ConversionError(what + ": shape " + shape_string(shape) + " has " + std::to_string(count) +
                          " elements, more than the " + std::to_string(limit) + " the converter computes");
  return count;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out << ",";
    if (shape[i] == kRows) out << "rows"; else out << shape[i];
  }
  out << "]";
  return out.str();
}

int64_t Value::elements_per_row() const {
  if (is_constant) return product(shape);
  return product(shape, 1);
}

bool Value::has_rows_symbol() const {
  return is_constant && dtype == DType::kInt64 && std::find(ints.begin(), ints.end(), kRowsSymbol) != ints.end();
}

std::string Graph::unique_name(const std::string& base) {
  std::string name = base.empty() ? "t" : base;
  auto taken = [&](const std::string& n) { return names_used_.count(n) != 0; };
  if (taken(name)) {
    for (int i = 1;; ++i) {
      std::string candidate = name + "_" + std::to_string(i);
      if (!taken(candidate)) { name = candidate; break; }
    }
  }
  names_used_.insert(name);
  return name;
}

int Graph::add_activation(const std::string& name, DType dtype, std::vector<int64_t> shape) {
  Value v;
  v.name = unique_name(name);
  v.dtype = dtype;
  v.shape = std::move(shape);
  values.push_back(std::move(v));
  return static_cast<int>(values.size()) - 1;
}

int Graph::add_float_constant(const std::string& name, std::vector<int64_t> shape, std::vector<float> data) {
  if (static_cast<int64_t>(data.size()) != product(shape)) throw ConversionError("constant size mismatch: " + name);
  Value v;
  v.name = unique_name(name);
  v.dtype = DType::kFloat32;
  v.shape = std::move(shape);
  v.is_constant = true;
  v.floats = std::move(data);
  values.push_back(std::move(v));
  return static_cast<int>(values.size()) - 1;
}

int Graph::add_int_constant(const std::string& name, DType dtype, std::vector<int64_t> shape,
                            std::vector<int64_t> data) {
  if (static_cast<int64_t>(data.size()) != product(shape)) throw ConversionError("constant size mismatch: " + name);
  Value v;
  v.name = unique_name(name);
  v.dtype = dtype;
  v.shape = std::move(shape);
  v.is_constant = true;
  v.ints = std::move(data);
  values.push_back(std::move(v));
  return static_cast<int>(values.size()) - 1;
}

std::vector<int64_t> broadcast_shapes(const std::vector<std::vector<int64_t>>& shapes) {
  size_t rank = 0;
  for (const auto& s : shapes) rank = std::max(rank, s.size());
  std::vector<int64_t> out(rank, 1);
  for (const auto& s : shapes) {
    bool has_rows = !s.empty() && s[0] == kRows;
    if (has_rows && s.size() != rank)
      throw ConversionError("broadcasting " + shape_string(s) + " to rank " + std::to_string(rank) +
                            " would move the row dimension");
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t& o = out[rank - s.size() + i];
      int64_t d = s[i];
      if (d == o || d == 1) continue;
      if (o == 1) { o = d; continue; }
      throw ConversionError("shapes do not broadcast");
    }
  }
  return out;
}

std::vector<int64_t> broadcast_offsets(const std::vector<int64_t>& in_shape, const std::vector<int64_t>& out_shape) {
  const size_t rank = out_shape.size();
  std::vector<int64_t> in_stride(rank, 0);  // 0 on broadcast (and missing) dims
  int64_t stride = 1;
  for (size_t k = 0; k < in_shape.size(); ++k) {
    size_t i = in_shape.size() - 1 - k;
    size_t o = rank - 1 - k;
    in_stride[o] = in_shape[i] == 1 ? 0 : stride;
    stride *= in_shape[i];
  }
  const int64_t total = product(out_shape);
  std::vector<int64_t> offsets(total);
  std::vector<int64_t> index(rank, 0);
  int64_t offset = 0;
  for (int64_t e = 0; e < total; ++e) {
    offsets[e] = offset;
    for (size_t d = rank; d-- > 0;) {  // odometer increment
      ++index[d];
      offset += in_stride[d];
      if (index[d] < out_shape[d]) break;
      offset -= in_stride[d] * index[d];
      index[d] = 0;
    }
  }
  return offsets;
}

int Graph::emit(Op op, const std::vector<int>& inputs, const NodeOptions& raw_options, const std::string& node_name,
                const std::string& output_name) {
  NodeOptions options = normalize_options(*this, op, inputs, raw_options);
  DType dtype;
  std::vector<int64_t> shape;
  infer_output(*this, op, inputs, options, &dtype, &shape);
  bool all_constant = true, row_broadcast = false;
  for (int v : inputs) {
    all_constant &= values[v].is_constant;
    row_broadcast |= values[v].row_broadcast;
  }
  if (row_broadcast && !is_elementwise(op))
    throw ConversionError(std::string("a constant with equal rows (zeros_like or ConstantOfShape of a shape with the row count) is read by ") +
                          op_name(op) + ", which does not broadcast it over the rows");
  std::string name = output_name.empty() ? node_name + "_out" : output_name;
  if (all_constant) {
    Value folded = evaluate(*this, op, inputs, options, dtype, shape);
    folded.row_broadcast = row_broadcast;
    folded.name = unique_name(name);
    values.push_back(std::move(folded));
    return static_cast<int>(values.size()) - 1;
  }
  for (int v : inputs)
    if (values[v].has_rows_symbol())
      throw ConversionError("the row count is used as data (only shapes may carry it)");
  int out = add_activation(name, dtype, shape);
  add_node(op, inputs, out, options, node_name);
  return out;
}

int Graph::add_node(Op op, const std::vector<int>& inputs, int output, const NodeOptions& options,
                    const std::string& node_name) {
  Node n;
  n.op = op;
  n.inputs = inputs;
  n.outputs = {output};
  n.options = options;
  n.name = node_name;
  nodes.push_back(std::move(n));
  values[output].producer = static_cast<int>(nodes.size()) - 1;
  return static_cast<int>(nodes.size()) - 1;
}

std::vector<std::vector<int>> Graph::consumers() const {
  std::vector<std::vector<int>> result(values.size());
  for (size_t n = 0; n < nodes.size(); ++n) {
    if (nodes[n].dead) continue;
    for (int v : nodes[n].inputs) {
      auto& list = result[v];
      if (list.empty() || list.back() != static_cast<int>(n)) list.push_back(static_cast<int>(n));
    }
  }
  return result;
}

std::vector<bool> Graph::output_mask() const {
  std::vector<bool> mask(values.size(), false);
  for (const Task& t : tasks) mask[t.value] = true;
  return mask;
}

void Graph::replace_uses(int from, int to) {
  for (Node& n : nodes)
    for (int& v : n.inputs)
      if (v == from) v = to;
  for (Task& t : tasks)
    if (t.value == from) t.value = to;
}

void Graph::compact() {
  std::vector<Node> live;
  for (auto& n : nodes)
    if (!n.dead) live.push_back(std::move(n));
  // Stable topological order: among ready nodes, the earliest position first.
  std::vector<int> producer_of(values.size(), -1);
  for (size_t i = 0; i < live.size(); ++i)
    for (int v : live[i].outputs) producer_of[v] = static_cast<int>(i);
  std::vector<int> pending(live.size(), 0);
  std::vector<std::vector<int>> users(live.size());
  for (size_t i = 0; i < live.size(); ++i)
    for (int v : live[i].inputs)
      if (producer_of[v] >= 0) {
        ++pending[i];
        users[producer_of[v]].push_back(static_cast<int>(i));
      }
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (size_t i = 0; i < live.size(); ++i)
    if (pending[i] == 0) ready.push(static_cast<int>(i));
  std::vector<Node> sorted;
  while (!ready.empty()) {
    int i = ready.top();
    ready.pop();
    sorted.push_back(live[i]);
    for (int u : users[i])
      if (--pending[u] == 0) ready.push(u);
  }
  if (sorted.size() != live.size()) throw ConversionError("internal error: graph has a cycle");
  nodes = std::move(sorted);
  for (auto& v : values) v.producer = -1;
  for (size_t i = 0; i < nodes.size(); ++i)
    for (int v : nodes[i].outputs) values[v].producer = static_cast<int>(i);
}

}  // namespace edgemtl::converter
