#include "converter/partition.h"

#include <algorithm>
#include <functional>

namespace edgemtl::converter {

std::vector<Side> assign_stages(Graph& g) {
  std::vector<Side> side(g.values.size(), Side::kConstant);
  for (size_t v = 0; v < g.values.size(); ++v)
    if (g.values[v].is_activation()) side[v] = Side::kItem;  // refined below
  for (const Feature& f : g.features) side[f.value] = f.user ? Side::kUser : Side::kItem;
  for (Node& n : g.nodes) {
    if (n.dead) continue;
    Side s = Side::kConstant;
    for (int v : n.inputs) s = std::max(s, side[v]);
    if (s == Side::kConstant) throw ConversionError("internal error: node '" + n.name + "' was not folded");
    // BROADCAST_ROWS reads a user tensor to give it the item stage's rows.
    if (n.op == Op::kBroadcastRows) s = Side::kItem;
    n.stage = s;
    for (int v : n.outputs) side[v] = s;
  }
  return side;
}

namespace {

// Columns [begin, end) of every row of a [N,K] matrix.
std::vector<float> weight_columns(const Value& w, const std::vector<std::pair<int64_t, int64_t>>& ranges) {
  const int64_t rows = w.shape[0], k = w.shape[1];
  std::vector<float> out;
  for (int64_t r = 0; r < rows; ++r)
    for (auto [begin, end] : ranges)
      out.insert(out.end(), w.floats.begin() + r * k + begin, w.floats.begin() + r * k + end);
  return out;
}

}  // namespace

void split_mixed_fcs(Graph& g) {
  std::vector<Side> side = assign_stages(g);
  bool changed = false;
  const size_t count = g.nodes.size();
  for (size_t i = 0; i < count; ++i) {
    if (g.nodes[i].dead || g.nodes[i].op != Op::kFullyConnected || g.nodes[i].stage != Side::kItem) continue;
    const Node fc = g.nodes[i];
    const int x = fc.inputs[0];
    const int producer = g.values[x].producer;
    if (producer < 0) continue;
    const Node concat = g.nodes[producer];
    if (concat.op != Op::kConcat || concat.options.axis != g.values[x].rank() - 1) continue;
    // Parts in column order. Item-side parts that are themselves concats are
    // opened, since they may hold user parts too: a concat on the same axis,
    // or a [rows,P] flattening of a concat whose rows hold each input's
    // elements contiguously (x.view(B, -1) of torch.stack/cat on dim 1).
    std::vector<int> parts;
    std::function<void(int)> collect = [&](int part) {
      const int p = g.values[part].producer;
      if (side[part] != Side::kItem || p < 0 || g.nodes[p].dead) {
        parts.push_back(part);
        return;
      }
      if (g.nodes[p].op == Op::kConcat && g.nodes[p].options.axis == concat.options.axis) {
        const std::vector<int> inner = g.nodes[p].inputs;
        for (int q : inner) collect(q);
        return;
      }
      const int source = g.nodes[p].inputs[0];
      const int sp = g.values[source].producer;
      if (g.nodes[p].op == Op::kReshape && g.values[part].rank() == 2 && concat.options.axis == 1 && sp >= 0 &&
          !g.nodes[sp].dead && g.nodes[sp].op == Op::kConcat &&
          product(g.values[source].shape, 1, g.nodes[sp].options.axis) == 1) {
        const std::vector<int> inner = g.nodes[sp].inputs;
        const std::string name = g.nodes[p].name;
        for (int q : inner) {
          int flat = q;
          if (g.values[q].rank() != 2) {
            NodeOptions o;
            o.shape = {kRows, g.values[q].elements_per_row()};
            flat = g.emit(Op::kReshape, {q}, o, name, g.values[q].name + "_flat");
            side.resize(g.values.size(), side[q]);
          }
          collect(flat);
        }
        return;
      }
      parts.push_back(part);
    };
    for (int part : concat.inputs) collect(part);
    std::vector<int> user_parts, item_parts;
    std::vector<std::pair<int64_t, int64_t>> user_cols, item_cols;
    int64_t begin = 0;
    for (int part : parts) {
      int64_t width = g.values[part].shape.back();
      bool user = side[part] != Side::kItem;
      (user ? user_parts : item_parts).push_back(part);
      (user ? user_cols : item_cols).emplace_back(begin, begin + width);
      begin += width;
    }
    if (user_parts.empty() || item_parts.empty()) continue;
    const Value& w = g.values[fc.inputs[1]];
    const int64_t n = w.shape[0];
    auto part_input = [&](const std::vector<int>& parts, const char* suffix) {
      if (parts.size() == 1) return parts[0];
      NodeOptions o;
      o.axis = concat.options.axis;
      return g.emit(Op::kConcat, parts, o, concat.name, g.values[x].name + suffix);
    };
    auto width_of = [](const std::vector<std::pair<int64_t, int64_t>>& r) {
      int64_t s = 0;
      for (auto [a, b] : r) s += b - a;
      return s;
    };
    const int64_t ku = width_of(user_cols), ki = width_of(item_cols);
    int w_user = g.add_float_constant(w.name + "_user", {n, ku}, weight_columns(w, user_cols));
    int w_item = g.add_float_constant(g.values[fc.inputs[1]].name + "_item", {n, ki}, weight_columns(g.values[fc.inputs[1]], item_cols));
    std::vector<int> user_inputs = {part_input(user_parts, "_user"), w_user};
    if (fc.inputs.size() == 3) user_inputs.push_back(fc.inputs[2]);
    const std::string y_name = g.values[fc.outputs[0]].name;
    int y_user = g.emit(Op::kFullyConnected, user_inputs, {}, fc.name, y_name + "_user");
    int y_item = g.emit(Op::kFullyConnected, {part_input(item_parts, "_item"), w_item}, {}, fc.name, y_name + "_item");
    NodeOptions add;
    add.activation = fc.options.activation;
    add.alpha = fc.options.alpha;
    g.nodes[i].dead = true;
    g.add_node(Op::kAdd, {y_item, y_user}, fc.outputs[0], add, fc.name);
    changed = true;
  }
  if (changed) g.compact();
  assign_stages(g);
}

namespace {

// A RESHAPE to the same shape: a copy of `v` computed by the stage of `v`.
int add_copy(Graph& g, int v, const std::string& suffix, const std::string& node_name) {
  NodeOptions same_shape;
  same_shape.shape = g.values[v].shape;
  int copy = g.add_activation(g.values[v].name + suffix, g.values[v].dtype, g.values[v].shape);
  g.add_node(Op::kReshape, {v}, copy, same_shape, node_name);
  return copy;
}

bool broadcasts_rows(Op op) {
  return is_binary_elementwise(op) || op == Op::kEqual || op == Op::kWhere || op == Op::kConcat || op == Op::kMatMul ||
         op == Op::kMix || op == Op::kCompare || op == Op::kLogical;
}

}  // namespace

void insert_row_broadcasts(Graph& g) {
  std::vector<Side> side = assign_stages(g);
  std::vector<bool> user_feature(g.values.size(), false);
  for (const Feature& f : g.features) user_feature[f.value] = f.user;
  std::vector<int> copy_of(g.values.size(), -1);  // user feature -> user-stage copy
  const size_t count = g.nodes.size();
  bool changed = false;
  for (size_t i = 0; i < count; ++i) {
    if (g.nodes[i].dead || g.nodes[i].stage != Side::kItem) continue;
    for (size_t k = 0; k < g.nodes[i].inputs.size(); ++k) {
      int v = g.nodes[i].inputs[k];
      if (side[v] != Side::kUser) continue;
      const std::string name = g.nodes[i].name;
      if (user_feature[v]) {
        if (copy_of[v] < 0) {
          copy_of[v] = add_copy(g, v, "_user_copy", name);
          changed = true;
        }
        g.nodes[i].inputs[k] = copy_of[v];
        v = copy_of[v];
      }
      if (!broadcasts_rows(g.nodes[i].op)) {
        int b = g.add_activation(g.values[v].name + "_rows", g.values[v].dtype, g.values[v].shape);
        g.add_node(Op::kBroadcastRows, {v}, b, {}, name);
        g.nodes[i].inputs[k] = b;
        changed = true;
      }
    }
  }
  // A task reading a feature tensor reads a copy made by its stage.
  for (Task& t : g.tasks) {
    if (g.values[t.value].is_constant || g.values[t.value].producer >= 0) continue;
    if (copy_of[t.value] < 0) {
      copy_of[t.value] = add_copy(g, t.value, "_copy", t.name);
      changed = true;
    }
    t.value = copy_of[t.value];
  }
  if (changed) g.compact();
  assign_stages(g);
}

std::vector<int> user_to_item(const Graph& g) {
  std::vector<bool> user_written(g.values.size(), false), read_by_item(g.values.size(), false);
  for (const Node& n : g.nodes) {
    if (n.dead) continue;
    if (n.stage == Side::kUser)
      for (int v : n.outputs) user_written[v] = true;
    if (n.stage == Side::kItem)
      for (int v : n.inputs) read_by_item[v] = true;
  }
  for (const Task& t : g.tasks) read_by_item[t.value] = true;
  std::vector<int> result;
  for (size_t v = 0; v < g.values.size(); ++v)
    if (user_written[v] && read_by_item[v]) result.push_back(static_cast<int>(v));
  return result;
}

}  // namespace edgemtl::converter
