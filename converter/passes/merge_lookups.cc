#include <string>

#include "converter/passes/passes.h"

namespace edgemtl::converter {
namespace {

// The EMBEDDING node whose output reaches concat input `v` unchanged (directly
// or through RESHAPEs, which keep the layout of a row), each step read only
// once and only on this path; -1 when there is none. `chain` collects the nodes.
int lookup_behind(const Graph& g, const std::vector<std::vector<int>>& consumers, const std::vector<bool>& outputs,
                  int v, std::vector<int>* chain) {
  while (true) {
    const Value& value = g.values[v];
    if (value.producer < 0 || outputs[v] || consumers[v].size() != 1) return -1;
    const Node& producer = g.nodes[value.producer];
    if (producer.dead) return -1;
    chain->push_back(value.producer);
    if (producer.op == Op::kReshape) {
      v = producer.inputs[0];
      continue;
    }
    if (producer.op != Op::kEmbedding) return -1;
    const Value& table = g.values[producer.inputs[0]];
    const Value& ids = g.values[producer.inputs[1]];
    if (!table.is_constant || table.rank() != 2 || table.dtype != DType::kFloat32) return -1;
    // A table other nodes read too (an item table shared by the item id and the
    // user's history) would be stored twice: once stacked, once for them.
    if (consumers[producer.inputs[0]].size() != 1) return -1;
    if (!ids.is_activation() || ids.dtype != DType::kInt64 || ids.shape != std::vector<int64_t>{kRows}) return -1;
    return value.producer;
  }
}

struct Candidate {
  int lookup = -1;          // EMBEDDING node
  std::vector<int> chain;   // it and the RESHAPEs after it
  int64_t width = 0;        // D
  Side stage = Side::kItem; // the lookup's stage (a run shares one)
};

// Whether the inputs of CONCAT `c` may be reordered: a [rows, K] CONCAT along
// axis 1 read only as the input of FULLY_CONNECTEDs with constant weights,
// whose weight columns are permuted alike.
bool reorderable(const Graph& g, const std::vector<std::vector<int>>& consumers, const std::vector<bool>& outputs,
                 const Node& c) {
  const int y = c.outputs[0];
  if (outputs[y] || g.values[y].rank() != 2 || c.options.axis != 1 || consumers[y].empty()) return false;
  for (int reader : consumers[y]) {
    const Node& fc = g.nodes[reader];
    if (fc.op != Op::kFullyConnected || fc.inputs[0] != y || !g.values[fc.inputs[1]].is_constant) return false;
    for (size_t k = 1; k < fc.inputs.size(); ++k)
      if (fc.inputs[k] == y) return false;
  }
  for (int v : c.inputs)
    if (g.values[v].rank() != 2) return false;
  return true;
}

// Reorders the inputs of CONCAT `c` to `order` (old positions) and permutes
// the weight columns of its FULLY_CONNECTED readers alike (new constants).
void reorder_concat(Graph& g, const std::vector<std::vector<int>>& consumers, int c, const std::vector<size_t>& order) {
  const Node concat = g.nodes[c];
  std::vector<int64_t> begin(concat.inputs.size());
  int64_t columns = 0;
  for (size_t p = 0; p < concat.inputs.size(); ++p) {
    begin[p] = columns;
    columns += g.values[concat.inputs[p]].shape[1];
  }
  std::vector<int64_t> source;  // new column -> old column
  std::vector<int> inputs;
  for (size_t p : order) {
    inputs.push_back(concat.inputs[p]);
    for (int64_t j = 0; j < g.values[concat.inputs[p]].shape[1]; ++j) source.push_back(begin[p] + j);
  }
  g.nodes[c].inputs = inputs;
  for (int reader : consumers[concat.outputs[0]]) {
    const Value w = g.values[g.nodes[reader].inputs[1]];
    const int64_t units = w.shape[0];
    std::vector<float> permuted(w.floats.size());
    for (int64_t u = 0; u < units; ++u)
      for (int64_t j = 0; j < columns; ++j) permuted[u * columns + j] = w.floats[u * columns + source[j]];
    const int weight = g.add_float_constant(g.unique_name(w.name + "_reordered"), w.shape, permuted);
    g.nodes[reader].inputs[1] = weight;
  }
}

}  // namespace

void merge_lookups(Graph& g) {
  // Recomputed after every rewrite: a rewrite adds values (stacked tables,
  // reordered weights) and readers that later CONCATs walk through.
  auto consumers = g.consumers();
  auto outputs = g.output_mask();
  bool changed = false;
  const size_t node_count = g.nodes.size();
  for (size_t c = 0; c < node_count; ++c) {
    if (g.nodes[c].dead || g.nodes[c].op != Op::kConcat) continue;
    Node concat = g.nodes[c];
    const Value y = g.values[concat.outputs[0]];  // a copy: values grow below
    const int64_t axis = concat.options.axis;
    // Per row, the inputs must lie one after the other: nothing outside the axis before it.
    if (!y.is_activation() || axis < 1 || product(y.shape, 1, static_cast<size_t>(axis)) != 1) continue;
    std::vector<Candidate> candidates(concat.inputs.size());
    for (size_t p = 0; p < concat.inputs.size(); ++p) {
      const int v = concat.inputs[p];
      int uses = 0;
      for (int u : concat.inputs) uses += u == v;
      if (uses != 1) continue;
      Candidate& candidate = candidates[p];
      const int lookup = lookup_behind(g, consumers, outputs, v, &candidate.chain);
      // A cross-stage CONCAT may gather item-stage lookups (merged in the item stage).
      if (lookup < 0 || (g.nodes[lookup].stage != concat.stage &&
                         !(concat.stage == Side::kCross && g.nodes[lookup].stage == Side::kItem))) {
        candidate = Candidate{};
        continue;
      }
      candidate.lookup = lookup;
      candidate.stage = g.nodes[lookup].stage;
      candidate.width = g.values[g.nodes[lookup].inputs[0]].shape[1];
      if (g.values[v].elements_per_row() != candidate.width) candidate = Candidate{};
    }
    // When the CONCAT only feeds fully-connected layers, its inputs may be
    // reordered: the lookups of one width come together (one run per width).
    if (reorderable(g, consumers, outputs, concat)) {
      std::vector<size_t> order;
      std::vector<bool> placed(concat.inputs.size(), false);
      for (size_t p = 0; p < concat.inputs.size(); ++p) {
        if (placed[p]) continue;
        if (candidates[p].lookup < 0) {
          order.push_back(p);
          placed[p] = true;
          continue;
        }
        for (size_t q = p; q < concat.inputs.size(); ++q)
          if (!placed[q] && candidates[q].lookup >= 0 && candidates[q].width == candidates[p].width) {
            order.push_back(q);
            placed[q] = true;
          }
      }
      bool identity = true;
      for (size_t p = 0; p < order.size(); ++p) identity &= order[p] == p;
      if (!identity) {
        reorder_concat(g, consumers, static_cast<int>(c), order);
        std::vector<Candidate> reordered;
        for (size_t p : order) reordered.push_back(candidates[p]);
        candidates = reordered;
        concat.inputs = g.nodes[c].inputs;
        consumers = g.consumers();
        outputs = g.output_mask();
      }
    }
    std::vector<int> new_inputs;
    for (size_t p = 0; p < concat.inputs.size();) {
      size_t end = p;
      if (candidates[p].lookup >= 0)
        while (end < concat.inputs.size() && candidates[end].lookup >= 0 && candidates[end].width == candidates[p].width &&
               candidates[end].stage == candidates[p].stage)
          ++end;
      if (end - p < 2) {
        new_inputs.push_back(concat.inputs[p]);
        ++p;
        continue;
      }
      // One stacked table for the run p .. end - 1.
      const int64_t width = candidates[p].width;
      NodeOptions options;
      std::vector<float> stacked;
      std::vector<int> inputs = {-1};
      int64_t rows = 0, axis_dim = 0;
      for (size_t q = p; q < end; ++q) {
        const Node& lookup = g.nodes[candidates[q].lookup];
        const Value& table = g.values[lookup.inputs[0]];
        stacked.insert(stacked.end(), table.floats.begin(), table.floats.end());
        options.row_offsets.push_back(rows);
        options.row_counts.push_back(table.shape[0]);
        options.default_rows.push_back(lookup.options.default_row);
        rows += table.shape[0];
        inputs.push_back(lookup.inputs[1]);
        axis_dim += g.values[concat.inputs[q]].shape[static_cast<size_t>(axis)];
        for (int n : candidates[q].chain) g.nodes[n].dead = true;
      }
      const std::string name = g.nodes[candidates[p].lookup].name + "_merged";
      inputs[0] = g.add_float_constant(g.unique_name(name + "_table"), {rows, width}, stacked);
      const int64_t k = static_cast<int64_t>(end - p);
      const int merged = g.add_activation(g.unique_name(name), DType::kFloat32, {kRows, k * width});
      DType dtype;
      std::vector<int64_t> shape;
      infer_output(g, Op::kEmbeddingMulti, inputs, options, &dtype, &shape);  // checks what the pass built
      const int node = g.add_node(Op::kEmbeddingMulti, inputs, merged, options, name);
      g.nodes[node].stage = candidates[p].stage;
      // The run's part of the CONCAT in its layout: the first input's shape with the run's width on the axis.
      std::vector<int64_t> part = g.values[concat.inputs[p]].shape;
      part[static_cast<size_t>(axis)] = axis_dim;
      int input = merged;
      if (part != g.values[merged].shape) {
        input = g.add_activation(g.unique_name(name + "_reshaped"), DType::kFloat32, part);
        NodeOptions reshape;
        reshape.shape = part;
        const int r = g.add_node(Op::kReshape, {merged}, input, reshape, name);
        g.nodes[r].stage = candidates[p].stage;
      }
      new_inputs.push_back(input);
      changed = true;
      p = end;
    }
    if (new_inputs.size() == concat.inputs.size()) continue;
    Node& rewritten = g.nodes[c];
    if (new_inputs.size() == 1) {
      // One input left: the CONCAT only regroups it.
      rewritten.op = Op::kReshape;
      rewritten.options = NodeOptions{};
      rewritten.options.shape = y.shape;
    }
    rewritten.inputs = new_inputs;
    consumers = g.consumers();
    outputs = g.output_mask();
  }
  if (changed) g.compact();
}

}  // namespace edgemtl::converter
