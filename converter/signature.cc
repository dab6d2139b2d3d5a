#include "converter/signature.h"

#include <algorithm>
#include <cstdint>
#include <set>

namespace edgemtl::converter {
namespace {

// Ops that only move the elements of their input (ids and values pass through unchanged).
bool moves_elements(Op op) {
  return op == Op::kReshape || op == Op::kTake || op == Op::kBroadcastRows || op == Op::kConcat ||
         op == Op::kTranspose;
}

// Follows ids through the ops that carry them unchanged and reports the
// embedding tables they index and the scalars they are compared with.
void trace_ids(const Graph& g, const std::vector<std::vector<int>>& consumers, int value, int64_t* table_size,
               bool* padding_found, int64_t* padding_id) {
  for (int n : consumers[value]) {
    const Node& node = g.nodes[n];
    switch (node.op) {
      case Op::kEmbedding: case Op::kBag:
        if (node.inputs[1] == value) {
          int64_t rows = g.values[node.inputs[0]].shape[0];
          *table_size = *table_size == 0 ? rows : std::min(*table_size, rows);
        }
        break;
      case Op::kEqual: {
        int other = node.inputs[0] == value ? node.inputs[1] : node.inputs[0];
        const Value& o = g.values[other];
        if (!*padding_found && o.is_constant && o.ints.size() == 1) {
          *padding_found = true;
          *padding_id = o.ints[0];
        }
        break;
      }
      case Op::kCast:
        if (node.options.cast_to == DType::kInt64)
          trace_ids(g, consumers, node.outputs[0], table_size, padding_found, padding_id);
        break;
      default:
        if (moves_elements(node.op)) trace_ids(g, consumers, node.outputs[0], table_size, padding_found, padding_id);
        break;
    }
  }
}

// Whether the model tests (part of) `value` for NaN: an IS_NAN reads it, directly
// or through ops that only move its elements.
bool tested_for_nan(const Graph& g, const std::vector<std::vector<int>>& consumers, int value) {
  for (int n : consumers[value]) {
    const Node& node = g.nodes[n];
    if (node.op == Op::kIsNan) return true;
    if (moves_elements(node.op) && tested_for_nan(g, consumers, node.outputs[0])) return true;
  }
  return false;
}

// Whether element `column` of a row of `value` is a Sigmoid output.
bool column_is_sigmoid(const Graph& g, int value, int64_t column) {
  const Value& v = g.values[value];
  if (v.producer < 0) return false;
  const Node& node = g.nodes[v.producer];
  switch (node.op) {
    case Op::kSigmoid:
      return true;
    case Op::kFullyConnected: case Op::kAdd: case Op::kSub: case Op::kMul: case Op::kDiv: case Op::kMax: case Op::kMin:
      return node.options.activation == Activation::kSigmoid;
    case Op::kReshape: case Op::kBroadcastRows:
      return column_is_sigmoid(g, node.inputs[0], column);
    case Op::kConcat:
      if (v.rank() != 2) return false;
      for (int input : node.inputs) {
        int64_t width = g.values[input].shape[1];
        if (column < width) return column_is_sigmoid(g, input, column);
        column -= width;
      }
      return false;
    case Op::kTake:
      if (v.rank() != 2) return false;
      return column_is_sigmoid(g, node.inputs[0], node.options.indices[column]);
    default:
      return false;
  }
}

}  // namespace

void assign_features(Graph& g, const std::vector<std::string>& input_names, const std::vector<int>& input_values,
                     const std::vector<std::string>& user_inputs) {
  for (const std::string& name : user_inputs)
    if (std::find(input_names.begin(), input_names.end(), name) == input_names.end())
      throw ConversionError("--user-inputs names '" + name + "', which is not a graph input");
  auto consumers = g.consumers();
  for (size_t i = 0; i < input_names.size(); ++i) {
    const Value& v = g.values[input_values[i]];
    Feature f;
    f.name = input_names[i];
    f.value = input_values[i];
    f.user = std::find(user_inputs.begin(), user_inputs.end(), f.name) != user_inputs.end();
    if (v.rank() > 2) throw ConversionError("input '" + f.name + "' has rank " + std::to_string(v.rank()) + " (features are [B] or [B,d])");
    f.width = v.rank() == 2 ? v.shape[1] : 1;
    if (v.dtype == DType::kInt64) {
      f.kind = v.rank() == 1 ? FeatureKind::kId : FeatureKind::kIdList;
      bool padding_found = false;
      trace_ids(g, consumers, f.value, &f.table_size, &padding_found, &f.padding_id);
      // Ids that index no table (used as numbers, or unused) have no bound.
      if (f.table_size == 0) f.table_size = INT64_MAX;
    } else if (v.dtype == DType::kFloat32) {
      f.kind = FeatureKind::kDense;
      f.accepts_nan = tested_for_nan(g, consumers, f.value);
    } else {
      throw ConversionError("input '" + f.name + "' has dtype " + dtype_name(v.dtype) + " (features are int64 or float32)");
    }
    g.features.push_back(f);
  }
}

void assign_tasks(Graph& g, const std::vector<std::pair<std::string, int>>& outputs,
                  const std::vector<TaskOverride>& overrides) {
  // One task per output column; the runtime refuses a model without tasks.
  constexpr int64_t kMaxTasks = int64_t{1} << 16;
  if (outputs.empty()) throw ConversionError("the graph has no outputs: a model needs at least one task");
  int64_t total = 0;
  for (const auto& [name, value] : outputs) {
    const Value& v = g.values[value];
    if (v.is_constant) throw ConversionError("output '" + name + "' does not depend on any input");
    if (v.dtype != DType::kFloat32) throw ConversionError("output '" + name + "' is not float32");
    const int64_t columns = v.elements_per_row();
    total += columns;
    if (columns < 1 || total > kMaxTasks)
      throw ConversionError("output '" + name + "' has " + std::to_string(columns) + " columns: the outputs make " +
                            (columns < 1 ? "no task" : "more than " + std::to_string(kMaxTasks) + " tasks"));
    for (int64_t c = 0; c < columns; ++c) {
      Task t;
      t.name = columns == 1 ? name : name + ":" + std::to_string(c);
      t.value = value;
      t.column = c;
      t.probability = column_is_sigmoid(g, value, c);
      g.tasks.push_back(t);
    }
  }
  if (!overrides.empty() && overrides.size() != g.tasks.size())
    throw ConversionError("--tasks lists " + std::to_string(overrides.size()) + " tasks but the model has " +
                          std::to_string(g.tasks.size()) + " output columns");
  for (size_t i = 0; i < overrides.size(); ++i) {
    g.tasks[i].name = overrides[i].name;
    if (overrides[i].probability) g.tasks[i].probability = *overrides[i].probability;
  }
  // Also without --tasks: a graph may list one output twice (the runtime refuses a file with two tasks of one name).
  std::set<std::string> names;
  for (const Task& task : g.tasks)
    if (!names.insert(task.name).second) throw ConversionError("two tasks are named '" + task.name + "'");
}

void apply_oov_row(Graph& g, int64_t row) {
  if (row < 0) return;
  for (Node& n : g.nodes) {
    if (n.dead || (n.op != Op::kEmbedding && n.op != Op::kBag)) continue;
    int64_t rows = g.values[n.inputs[0]].shape[0];
    if (row >= rows)
      throw ConversionError("--oov-row " + std::to_string(row) + " is not a row of the embedding table of node '" + n.name +
                            "' (" + std::to_string(rows) + " rows)");
    n.options.default_row = row;
  }
}

}  // namespace edgemtl::converter
