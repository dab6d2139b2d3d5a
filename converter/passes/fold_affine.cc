#include "converter/passes/passes.h"

namespace edgemtl::converter {
namespace {

// The constant operand of a binary node when the other operand is `x`, or -1.
int constant_operand(const Graph& g, const Node& n, int x) {
  if (n.inputs.size() != 2) return -1;
  int other = n.inputs[0] == x ? n.inputs[1] : n.inputs[1] == x ? n.inputs[0] : -1;
  if (other < 0 || other == x || !g.values[other].is_constant) return -1;
  return other;
}

// Per-column factors of a constant broadcast along the last axis only
// (a scalar, [n] or [1,..,1,n]); empty when it broadcasts otherwise.
std::vector<float> per_column(const Value& c, int64_t n, int64_t rank_of_other) {
  if (c.dtype != DType::kFloat32 || c.rank() > rank_of_other) return {};
  if (c.floats.size() == 1) return std::vector<float>(n, c.floats[0]);
  if (c.rank() >= 1 && c.shape.back() == n && product(c.shape) == n) return c.floats;
  return {};
}

bool foldable_op(const Node& n, int x) {
  switch (n.op) {
    case Op::kAdd: case Op::kMul: return n.options.activation == Activation::kNone;
    case Op::kSub: case Op::kDiv: return n.options.activation == Activation::kNone && n.inputs[0] == x;
    default: return false;
  }
}

// y = FC(x) followed by `n` (y op c): rewrites the FC's weight and bias.
bool fold_after(Graph& g, Node& fc, Node& n) {
  const int y = fc.outputs[0];
  int c = constant_operand(g, n, y);
  if (c < 0 || !foldable_op(n, y)) return false;
  const Value& w = g.values[fc.inputs[1]];
  const int64_t rows = w.shape[0], k = w.shape[1];
  std::vector<float> f = per_column(g.values[c], rows, g.values[y].rank());
  if (f.empty()) return false;
  std::vector<float> weight = w.floats;
  std::vector<float> bias = fc.inputs.size() == 3 ? g.values[fc.inputs[2]].floats : std::vector<float>(rows, 0.0f);
  for (int64_t j = 0; j < rows; ++j) {
    switch (n.op) {
      case Op::kAdd: bias[j] += f[j]; break;
      case Op::kSub: bias[j] -= f[j]; break;
      case Op::kMul: case Op::kDiv:
        for (int64_t i = 0; i < k; ++i) weight[j * k + i] = n.op == Op::kMul ? weight[j * k + i] * f[j] : weight[j * k + i] / f[j];
        bias[j] = n.op == Op::kMul ? bias[j] * f[j] : bias[j] / f[j];
        break;
      default: break;
    }
  }
  bool needs_bias = fc.inputs.size() == 3 || n.op == Op::kAdd || n.op == Op::kSub;
  fc.inputs[1] = g.add_float_constant(fc.name + "_weight", w.shape, weight);
  if (needs_bias) {
    int b = g.add_float_constant(fc.name + "_bias", {rows}, bias);
    if (fc.inputs.size() == 3) fc.inputs[2] = b; else fc.inputs.push_back(b);
  }
  fc.outputs = n.outputs;
  g.values[fc.outputs[0]].producer = -1;
  n.dead = true;
  return true;
}

// x = z op c read only by FCs: folds c into each of them, which then read z.
bool fold_before(Graph& g, Node& n, const std::vector<int>& readers) {
  const int x = n.outputs[0];
  if (n.inputs.size() != 2) return false;
  const int z = g.values[n.inputs[0]].is_constant ? n.inputs[1] : n.inputs[0];
  if (g.values[z].is_constant) return false;
  int c = constant_operand(g, n, z);
  if (c < 0 || !foldable_op(n, z)) return false;
  if (g.values[z].shape != g.values[x].shape) return false;  // c must not broadcast z
  if (g.values[z].rank() < 2) return false;  // a [rows] value has no columns (1 + x of a [B] feature)
  const int64_t k = g.values[z].shape.back();
  std::vector<float> f = per_column(g.values[c], k, g.values[z].rank());
  if (f.empty()) return false;
  for (int r : readers) {
    Node& fc = g.nodes[r];
    if (fc.op != Op::kFullyConnected || fc.inputs[0] != x || fc.inputs[1] == x) return false;
  }
  for (int r : readers) {
    Node& fc = g.nodes[r];
    const Value& w = g.values[fc.inputs[1]];
    const int64_t rows = w.shape[0];
    std::vector<float> weight = w.floats;
    std::vector<float> bias = fc.inputs.size() == 3 ? g.values[fc.inputs[2]].floats : std::vector<float>(rows, 0.0f);
    for (int64_t j = 0; j < rows; ++j) {
      double shift = 0;
      for (int64_t i = 0; i < k; ++i) {
        float& wi = weight[j * k + i];
        switch (n.op) {
          case Op::kAdd: shift += double(wi) * f[i]; break;
          case Op::kSub: shift -= double(wi) * f[i]; break;
          case Op::kMul: wi *= f[i]; break;
          case Op::kDiv: wi /= f[i]; break;
          default: break;
        }
      }
      bias[j] = static_cast<float>(bias[j] + shift);
    }
    fc.inputs[0] = z;
    fc.inputs[1] = g.add_float_constant(fc.name + "_weight", w.shape, weight);
    bool needs_bias = fc.inputs.size() == 3 || n.op == Op::kAdd || n.op == Op::kSub;
    if (needs_bias) {
      int b = g.add_float_constant(fc.name + "_bias", {rows}, bias);
      if (fc.inputs.size() == 3) fc.inputs[2] = b; else fc.inputs.push_back(b);
    }
  }
  n.dead = true;
  return true;
}

}  // namespace

void fold_affine_into_fc(Graph& g) {
  for (bool changed = true; changed;) {
    changed = false;
    auto consumers = g.consumers();
    auto outputs = g.output_mask();
    for (size_t i = 0; i < g.nodes.size() && !changed; ++i) {
      Node& n = g.nodes[i];
      if (n.dead) continue;
      if (n.op == Op::kFullyConnected && n.options.activation == Activation::kNone) {
        int y = n.outputs[0];
        if (!outputs[y] && consumers[y].size() == 1) changed = fold_after(g, n, g.nodes[consumers[y][0]]);
      }
      if (!changed && (n.op == Op::kAdd || n.op == Op::kSub || n.op == Op::kMul || n.op == Op::kDiv)) {
        int x = n.outputs[0];
        if (!outputs[x] && !consumers[x].empty()) changed = fold_before(g, n, consumers[x]);
      }
    }
    if (changed) g.compact();
  }
}

}  // namespace edgemtl::converter
