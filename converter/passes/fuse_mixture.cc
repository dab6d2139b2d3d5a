#include <string>

#include "converter/passes/passes.h"

namespace edgemtl::converter {
namespace {

// The live RESHAPE producing `v`, or -1.
int reshape_behind(const Graph& g, int v) {
  const int p = g.values[v].producer;
  return p >= 0 && !g.nodes[p].dead && g.nodes[p].op == Op::kReshape ? p : -1;
}

// The [rows, E] activation whose RESHAPE (possibly a chain) is the gate
// operand `v` of shape `operand` ([rows, E, 1] for MUL, [rows, 1, E] for
// MATMUL), or -1. A RESHAPE keeps the order of a row's elements, so every
// [rows, E] value on the chain holds the gate weights.
int gate_behind(const Graph& g, int v, const std::vector<int64_t>& operand) {
  if (g.values[v].shape != operand) return -1;
  const int64_t experts = operand[1] * operand[2];
  for (int r = reshape_behind(g, v); r >= 0; r = reshape_behind(g, v)) {
    v = g.nodes[r].inputs[0];
    if (g.values[v].is_activation() && g.values[v].dtype == DType::kFloat32 &&
        g.values[v].shape == std::vector<int64_t>{kRows, experts})
      return v;
  }
  return -1;
}

// The experts h_0 .. h_{E-1} ([rows, D] each) when `v` ([rows, E, D]) is a
// RESHAPE (possibly a chain) of CONCAT(h_0 .. h_{E-1}) along the columns of a
// [rows, E·D] tensor; empty otherwise.
std::vector<int> experts_behind(const Graph& g, int v, int64_t experts, int64_t width) {
  if (g.values[v].shape != std::vector<int64_t>{kRows, experts, width}) return {};
  for (int r = reshape_behind(g, v); r >= 0; r = reshape_behind(g, v)) {
    v = g.nodes[r].inputs[0];
    const int c = g.values[v].producer;
    if (c < 0 || g.nodes[c].dead || g.nodes[c].op != Op::kConcat) continue;
    const Node& concat = g.nodes[c];
    if (g.values[v].rank() != 2 || concat.options.axis != 1 || static_cast<int64_t>(concat.inputs.size()) != experts)
      return {};
    for (int h : concat.inputs)
      if (!g.values[h].is_activation() || g.values[h].dtype != DType::kFloat32 ||
          g.values[h].shape != std::vector<int64_t>{kRows, width})
        return {};
    return concat.inputs;
  }
  return {};
}

}  // namespace

void fuse_mixtures(Graph& g) {
  const auto consumers = g.consumers();
  const auto outputs = g.output_mask();
  std::vector<bool> user_feature(g.values.size(), false);
  for (const Feature& f : g.features) user_feature[f.value] = f.user;
  bool changed = false;
  for (size_t s = 0; s < g.nodes.size(); ++s) {
    // The node whose output becomes MIX's: REDUCE_SUM over axis 1 of
    // MUL(gate [rows, E, 1], stack [rows, E, D]) (operands in either order),
    // or the RESHAPE to [rows, D] of MATMUL(gate [rows, 1, E], stack [rows, E, D])
    // (torch.matmul(gate.unsqueeze(1), stack).squeeze(1)).
    const Node& last = g.nodes[s];
    if (last.dead) continue;
    const bool reduce = last.op == Op::kReduceSum && !last.options.keepdims && last.options.axes == std::vector<int64_t>{1};
    if (!reduce && last.op != Op::kReshape) continue;
    const int product = last.inputs[0];
    const Value& p = g.values[product];
    if (p.producer < 0 || p.rank() != 3 || p.shape[0] != kRows || p.dtype != DType::kFloat32 || outputs[product] ||
        consumers[product].size() != 1)
      continue;
    const Node& op = g.nodes[p.producer];
    if (op.dead) continue;
    int64_t experts = 0, width = p.shape[2];
    std::vector<std::vector<int64_t>> gate_shapes;
    if (reduce && op.op == Op::kMul && op.options.activation == Activation::kNone) {
      experts = p.shape[1];
      gate_shapes = {{kRows, experts, 1}, {kRows, experts, 1}};
    } else if (!reduce && op.op == Op::kMatMul && p.shape[1] == 1 &&
               g.values[last.outputs[0]].shape == std::vector<int64_t>{kRows, width}) {
      experts = g.values[op.inputs[0]].shape.back();
      gate_shapes = {{kRows, 1, experts}};  // MATMUL's operands do not commute
    } else {
      continue;
    }
    if (experts < 1 || width < 1) continue;
    int gate = -1;
    std::vector<int> h;
    for (size_t k = 0; k < gate_shapes.size() && h.empty(); ++k) {
      // The stacked experts may have other readers (MMoE: every task's gate
      // reads the same stack); the CONCAT then stays for them.
      gate = gate_behind(g, op.inputs[k], gate_shapes[k]);
      if (gate >= 0) h = experts_behind(g, op.inputs[1 - k], experts, width);
    }
    if (h.empty()) continue;
    std::vector<int> inputs = {gate};
    inputs.insert(inputs.end(), h.begin(), h.end());
    // The cross stage reads user features only through the copies insert_row_broadcasts made.
    bool readable = true;
    for (int v : inputs) readable &= !(last.stage != Side::kUser && user_feature[v]);
    if (!readable) continue;
    DType dtype;
    std::vector<int64_t> shape;
    infer_output(g, Op::kMix, inputs, NodeOptions{}, &dtype, &shape);  // checks what the pass built
    if (shape != g.values[last.outputs[0]].shape) continue;
    // sum_e gate[:, e] * h_e, in REDUCE_SUM's (and MATMUL's) order; the MUL or
    // MATMUL dies, the RESHAPEs and the CONCAT when nothing else reads them
    // (eliminate_dead_code). One pass over the experts instead of three.
    g.nodes[p.producer].dead = true;
    const std::string name = reduce ? last.name : op.name;  // the MATMUL rather than its Squeeze
    Node& mix = g.nodes[s];
    mix.name = name;
    mix.op = Op::kMix;
    mix.inputs = inputs;
    mix.options = NodeOptions{};
    changed = true;
  }
  if (changed) eliminate_dead_code(g);
}

}  // namespace edgemtl::converter
