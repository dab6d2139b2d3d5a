#include "converter/ir.h"

#include <algorithm>
#include <numeric>
#include <queue>
#include <sstream>

#include "converter/eval.h"

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

bool is_binary_elementwise(Op op) {
  return op == Op::kAdd || op == Op::kSub || op == Op::kMul || op == Op::kDiv || op == Op::kMax || op == Op::kMin;
}

bool is_elementwise(Op op) {
  switch (op) {
    case Op::kEqual: case Op::kNot: case Op::kWhere: case Op::kCast: case Op::kRelu: case Op::kSigmoid: case Op::kTanh:
    case Op::kLeakyRelu: case Op::kClip: case Op::kPRelu:
      return true;
    default:
      return is_binary_elementwise(op);
  }
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

namespace {

void require(bool condition, const std::string& message) {
  if (!condition) throw ConversionError(message);
}

}  // namespace

void infer_output(const Graph& g, Op op, const std::vector<int>& inputs, const NodeOptions& o, DType* dtype,
                  std::vector<int64_t>* shape) {
  auto in = [&](size_t i) -> const Value& { return g.values.at(inputs.at(i)); };
  bool any_activation = false;
  for (int v : inputs) any_activation |= g.values[v].is_activation();
  auto arity = [&](size_t lo, size_t hi) {
    require(inputs.size() >= lo && inputs.size() <= hi, std::string(op_name(op)) + ": wrong number of inputs");
  };
  switch (op) {
    case Op::kFullyConnected: {
      arity(2, 3);
      const Value& x = in(0);
      const Value& w = in(1);
      require(w.is_constant && w.rank() == 2 && w.dtype == DType::kFloat32, "fully-connected weight must be a constant [N,K]");
      require(x.dtype == DType::kFloat32, "fully-connected input must be float32");
      require(x.rank() >= (x.is_activation() ? 2 : 1), "fully-connected would contract the row dimension");
      require(x.shape.back() == w.shape[1], "fully-connected: input width " + std::to_string(x.shape.back()) +
                                                " does not match weight " + shape_string(w.shape));
      if (inputs.size() == 3)
        require(in(2).is_constant && in(2).dtype == DType::kFloat32 && in(2).shape == std::vector<int64_t>{w.shape[0]},
                "fully-connected bias must be a float constant [N]");
      *dtype = DType::kFloat32;
      *shape = x.shape;
      shape->back() = w.shape[0];
      return;
    }
    case Op::kEmbedding: {
      arity(2, 2);
      const Value& table = in(0);
      require(table.is_constant && table.rank() == 2 && table.dtype == DType::kFloat32, "embedding table must be a constant [V,D]");
      require(in(1).dtype == DType::kInt64, "embedding ids must be int64");
      *dtype = DType::kFloat32;
      *shape = in(1).shape;
      shape->push_back(table.shape[1]);
      return;
    }
    case Op::kEmbeddingMulti: {
      require(inputs.size() >= 2, "EMBEDDING_MULTI needs a table and ids");
      const Value& table = in(0);
      require(table.is_constant && table.rank() == 2 && table.dtype == DType::kFloat32, "embedding table must be a constant [V,D]");
      const size_t k = inputs.size() - 1;
      require(o.row_offsets.size() == k && o.row_counts.size() == k && o.default_rows.size() == k,
              "EMBEDDING_MULTI needs one row offset, row count and default row per ids input");
      for (size_t j = 0; j < k; ++j) {
        require(in(j + 1).dtype == DType::kInt64 && in(j + 1).is_activation() && in(j + 1).shape == std::vector<int64_t>{kRows},
                "EMBEDDING_MULTI ids must be int64 [rows]");
        require(o.row_offsets[j] >= 0 && o.row_counts[j] >= 1 &&
                o.row_offsets[j] + o.row_counts[j] <= table.shape[0] &&
                o.default_rows[j] < o.row_counts[j], "EMBEDDING_MULTI rows outside the table");
      }
      *dtype = DType::kFloat32;
      *shape = {kRows, static_cast<int64_t>(k) * table.shape[1]};
      return;
    }
    case Op::kMix: {
      // gate [rows, E], then E experts [rows, D]; an output row mixes the experts' rows.
      require(inputs.size() >= 2, "MIX needs a gate and experts");
      const Value& gate = in(0);
      const int64_t experts = static_cast<int64_t>(inputs.size()) - 1;
      require(gate.is_activation() && gate.dtype == DType::kFloat32 && gate.shape == std::vector<int64_t>{kRows, experts},
              "MIX gate must be float32 [rows," + std::to_string(experts) + "], one weight per expert");
      const Value& first = in(1);
      require(first.rank() == 2 && first.shape[1] >= 1, "MIX experts must be [rows,D]");
      for (size_t j = 1; j < inputs.size(); ++j)
        require(in(j).is_activation() && in(j).dtype == DType::kFloat32 && in(j).shape == first.shape,
                "MIX experts must be float32 activations of one shape [rows,D]");
      *dtype = DType::kFloat32;
      *shape = first.shape;
      return;
    }
    case Op::kAdd: case Op::kSub: case Op::kMul: case Op::kDiv: case Op::kMax: case Op::kMin: case Op::kEqual: {
      arity(2, 2);
      require(in(0).dtype == in(1).dtype, "inputs have different dtypes");
      if (any_activation && op != Op::kEqual) require(in(0).dtype == DType::kFloat32, "arithmetic on activations must be float32");
      *dtype = op == Op::kEqual ? DType::kBool : in(0).dtype;
      *shape = broadcast_shapes({in(0).shape, in(1).shape});
      return;
    }
    case Op::kNot:
      arity(1, 1);
      require(in(0).dtype == DType::kBool, "NOT needs bool");
      *dtype = DType::kBool;
      *shape = in(0).shape;
      return;
    case Op::kWhere:
      arity(3, 3);
      require(in(0).dtype == DType::kBool, "WHERE condition must be bool");
      require(in(1).dtype == in(2).dtype, "WHERE branches have different dtypes");
      *dtype = in(1).dtype;
      *shape = broadcast_shapes({in(0).shape, in(1).shape, in(2).shape});
      return;
    case Op::kCast:
      arity(1, 1);
      *dtype = o.cast_to;
      *shape = in(0).shape;
      return;
    case Op::kRelu: case Op::kSigmoid: case Op::kTanh: case Op::kLeakyRelu: case Op::kClip: case Op::kSoftmax:
      arity(1, 1);
      require(in(0).dtype == DType::kFloat32, std::string(op_name(op)) + " needs float32");
      if (op == Op::kSoftmax) {
        require(!in(0).is_activation() || o.axis >= 1, "softmax over the row dimension");
        require(o.axis >= 0 && o.axis < in(0).rank(), "softmax axis out of range");
      }
      *dtype = DType::kFloat32;
      *shape = in(0).shape;
      return;
    case Op::kPRelu:
      arity(2, 2);
      require(in(1).is_constant, "PRELU slope must be a constant");
      require(in(0).dtype == DType::kFloat32 && in(1).dtype == DType::kFloat32, "PRELU needs float32");
      *dtype = DType::kFloat32;
      *shape = broadcast_shapes({in(0).shape, in(1).shape});
      require(*shape == in(0).shape, "PRELU slope would broadcast the input");
      return;
    case Op::kReduceSum: case Op::kReduceMean: {
      arity(1, 1);
      require(in(0).dtype == DType::kFloat32 || !any_activation, "reduction needs float32");
      *dtype = in(0).dtype;
      std::vector<int64_t> out;
      for (int64_t i = 0; i < in(0).rank(); ++i) {
        bool reduced = std::find(o.axes.begin(), o.axes.end(), i) != o.axes.end();
        if (reduced && i == 0 && in(0).is_activation()) throw ConversionError("reduction over the row dimension");
        if (!reduced) out.push_back(in(0).shape[i]);
        else if (o.keepdims) out.push_back(1);
      }
      *shape = out;
      return;
    }
    case Op::kConcat: {
      require(!inputs.empty(), "CONCAT needs inputs");
      const Value& first = in(0);
      require(o.axis >= 0 && o.axis < first.rank(), "concat axis out of range");
      if (any_activation) require(o.axis >= 1, "concat along the row dimension");
      std::vector<int64_t> out = first.shape;
      out[o.axis] = 0;
      for (size_t i = 0; i < inputs.size(); ++i) {
        const Value& v = in(i);
        require(v.dtype == first.dtype && v.rank() == first.rank(), "concat inputs differ in dtype or rank");
        if (any_activation) require(v.is_activation(), "constant input to a concat of activations (would need rows)");
        for (int64_t d = 0; d < v.rank(); ++d)
          if (d != o.axis) require(v.shape[d] == first.shape[d], "concat inputs differ in shape");
        out[o.axis] += v.shape[o.axis];
      }
      *dtype = first.dtype;
      *shape = out;
      return;
    }
    case Op::kTake: {
      arity(1, 1);
      require(o.axis >= 0 && o.axis < in(0).rank(), "take axis out of range");
      if (in(0).is_activation()) require(o.axis >= 1, "take along the row dimension");
      for (int64_t index : o.indices)
        require(index >= 0 && index < in(0).shape[o.axis], "take index out of range");
      *dtype = in(0).dtype;
      *shape = in(0).shape;
      (*shape)[o.axis] = static_cast<int64_t>(o.indices.size());
      return;
    }
    case Op::kTranspose: {
      arity(1, 1);
      require(static_cast<int64_t>(o.axes.size()) == in(0).rank(), "transpose perm has the wrong length");
      if (in(0).is_activation()) require(o.axes[0] == 0, "transpose moves the row dimension");
      std::vector<int64_t> out;
      std::vector<bool> seen(in(0).rank(), false);
      for (int64_t p : o.axes) {
        require(p >= 0 && p < in(0).rank() && !seen[p], "transpose perm is not a permutation");
        seen[p] = true;
        out.push_back(in(0).shape[p]);
      }
      *dtype = in(0).dtype;
      *shape = out;
      return;
    }
    case Op::kMatMul: {
      arity(2, 2);
      const Value& a = in(0);
      const Value& b = in(1);
      require(a.dtype == DType::kFloat32 && b.dtype == DType::kFloat32, "matmul needs float32");
      require(a.rank() >= 2 && b.rank() >= 2, "matmul of vectors is not supported");
      if (any_activation) require(a.rank() >= 3 && b.rank() >= 3, "matmul would contract the row dimension");
      require(a.shape.back() == b.shape[b.rank() - 2], "matmul inner dimensions differ");
      std::vector<int64_t> batch_a(a.shape.begin(), a.shape.end() - 2);
      std::vector<int64_t> batch_b(b.shape.begin(), b.shape.end() - 2);
      std::vector<int64_t> out = broadcast_shapes({batch_a, batch_b});
      out.push_back(a.shape[a.rank() - 2]);
      out.push_back(b.shape.back());
      *dtype = DType::kFloat32;
      *shape = out;
      return;
    }
    case Op::kReshape: {
      arity(1, 1);
      const Value& x = in(0);
      bool target_rows = !o.shape.empty() && o.shape[0] == kRows;
      require(target_rows == x.is_activation(), "reshape would move the row dimension");
      for (size_t d = target_rows ? 1 : 0; d < o.shape.size(); ++d)
        require(o.shape[d] >= 0, "reshape to a negative dimension " + shape_string(o.shape));
      int64_t target = x.is_activation() ? product(o.shape, 1) : product(o.shape);
      require(target == x.elements_per_row(), "reshape " + shape_string(x.shape) + " -> " + shape_string(o.shape) +
                                                  " changes the elements per row");
      *dtype = x.dtype;
      *shape = o.shape;
      return;
    }
    case Op::kBroadcastRows:
      arity(1, 1);
      require(in(0).is_activation(), "BROADCAST_ROWS of a constant");
      *dtype = in(0).dtype;
      *shape = in(0).shape;
      return;
  }
  throw ConversionError("unknown op");
}

namespace {

// Fills defaults that depend on input shapes (negative axes) so that nodes
// always carry normalized options.
NodeOptions normalize_options(const Graph& g, Op op, const std::vector<int>& inputs, NodeOptions o) {
  if (inputs.empty()) return o;
  int64_t rank = g.values[inputs[0]].rank();
  switch (op) {
    case Op::kSoftmax: case Op::kConcat: case Op::kTake:
      o.axis = normalize_axis(o.axis, rank);
      break;
    case Op::kReduceSum: case Op::kReduceMean:
      for (auto& a : o.axes) a = normalize_axis(a, rank);
      std::sort(o.axes.begin(), o.axes.end());
      o.axes.erase(std::unique(o.axes.begin(), o.axes.end()), o.axes.end());
      break;
    case Op::kTranspose:
      for (auto& a : o.axes) a = normalize_axis(a, rank);
      break;
    default:
      break;
  }
  return o;
}

}  // namespace

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
