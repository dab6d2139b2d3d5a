// fuse_norms: the opset-13 decomposition of nn.LayerNorm and the two forms of
// nn.GELU that torch 1.13 writes become one LAYER_NORM / one UNARY GELU.
#include <cmath>

#include "converter/passes/passes.h"

namespace edgemtl::converter {
namespace {

struct Matcher {
  Graph& g;
  std::vector<std::vector<int>> consumers = g.consumers();
  std::vector<bool> outputs = g.output_mask();

  // The live node producing `v` when it is `op` (UNARY: with `function`), else null.
  Node* producer(int v, Op op, UnaryFunction function = UnaryFunction::kLog) {
    const int p = g.values[v].producer;
    if (p < 0 || g.nodes[p].dead || g.nodes[p].op != op) return nullptr;
    if (op == Op::kUnary && g.nodes[p].options.function != function) return nullptr;
    if (is_binary_elementwise(op) && g.nodes[p].options.activation != Activation::kNone) return nullptr;
    return &g.nodes[p];
  }
  // The only reader of `v` (an intermediate result: no task reads it), if it is `op`.
  Node* only_reader(int v, Op op) {
    if (outputs[v] || consumers[v].size() != 1) return nullptr;
    Node& n = g.nodes[consumers[v][0]];
    if (n.dead || n.op != op) return nullptr;
    if (is_binary_elementwise(op) && n.options.activation != Activation::kNone) return nullptr;
    return &n;
  }
  bool scalar(int v, double want) const {
    const Value& c = g.values[v];
    return c.is_constant && c.dtype == DType::kFloat32 && c.floats.size() == 1 &&
           std::fabs(c.floats[0] - want) <= 1e-6 * std::fabs(want);
  }
  // The operand of binary `n` that is not `v` (n reads v once).
  static int other(const Node& n, int v) {
    if (n.inputs[0] == v && n.inputs[1] != v) return n.inputs[1];
    if (n.inputs[1] == v && n.inputs[0] != v) return n.inputs[0];
    return -1;
  }
  // `n` is MUL/ADD/DIV of `v` and the constant scalar `want` (either order unless DIV).
  bool by_scalar(const Node* n, int v, double want) const {
    if (!n) return false;
    if (n->op == Op::kDiv) return n->inputs[0] == v && scalar(n->inputs[1], want);
    const int c = other(*n, v);
    return c >= 0 && scalar(c, want);
  }

  // x * 0.5 * (1 + erf(x / sqrt(2))), matched from the ERF.
  bool gelu_erf(Node& erf) {
    const int scaled = erf.inputs[0];
    Node* div = producer(scaled, Op::kDiv);
    Node* mul = producer(scaled, Op::kMul);
    int x = -1;
    if (div && scalar(div->inputs[1], std::sqrt(2.0))) x = div->inputs[0];
    else if (mul && by_scalar(mul, mul->inputs[0], 1.0 / std::sqrt(2.0))) x = mul->inputs[0];
    else if (mul && by_scalar(mul, mul->inputs[1], 1.0 / std::sqrt(2.0))) x = mul->inputs[1];
    if (x < 0 || outputs[scaled] || consumers[scaled].size() != 1) return false;
    return gelu_tail(erf.outputs[0], x, UnaryFunction::kGelu);
  }

  // Both forms end in (1 + f) * x * 0.5 after f = erf(..) or tanh(..): the last
  // MUL becomes the UNARY.
  bool gelu_tail(int f, int x, UnaryFunction function) {
    Node* plus_one = only_reader(f, Op::kAdd);
    if (!by_scalar(plus_one, f, 1.0)) return false;
    Node* times_x = only_reader(plus_one->outputs[0], Op::kMul);
    if (!times_x || other(*times_x, plus_one->outputs[0]) != x) return false;
    Node* half = only_reader(times_x->outputs[0], Op::kMul);
    if (!by_scalar(half, times_x->outputs[0], 0.5)) return false;
    return replace(*half, x, function);
  }

  // 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3))), matched from the TANH
  // (x^3 as x * (x * x) or POW(x, 3)).
  bool gelu_tanh(Node& tanh) {
    Node* scale = producer(tanh.inputs[0], Op::kMul);
    if (!scale || outputs[tanh.inputs[0]] || consumers[tanh.inputs[0]].size() != 1) return false;
    int sum = -1;
    for (int k = 0; k < 2; ++k)
      if (scalar(scale->inputs[k], std::sqrt(2.0 / M_PI))) sum = scale->inputs[1 - k];
    Node* add = sum >= 0 ? producer(sum, Op::kAdd) : nullptr;
    if (!add) return false;
    for (int k = 0; k < 2; ++k) {
      const int x = add->inputs[k], cubic_term = add->inputs[1 - k];
      Node* times = producer(cubic_term, Op::kMul);
      if (!times) continue;
      int cube = -1;
      for (int j = 0; j < 2; ++j)
        if (scalar(times->inputs[j], 0.044715)) cube = times->inputs[1 - j];
      if (cube < 0 || !is_cube(cube, x)) continue;
      return gelu_tail(tanh.outputs[0], x, UnaryFunction::kGeluTanh);
    }
    return false;
  }
  bool is_cube(int v, int x) {
    if (Node* pow = producer(v, Op::kUnary, UnaryFunction::kPow)) return pow->inputs[0] == x && pow->options.exponent == 3.0f;
    Node* outer = producer(v, Op::kMul);
    if (!outer) return false;
    const int square = other(*outer, x);
    Node* inner = square >= 0 ? producer(square, Op::kMul) : nullptr;
    return inner && inner->inputs[0] == x && inner->inputs[1] == x;
  }
  bool replace(Node& last, int x, UnaryFunction function) {
    last.op = Op::kUnary;
    last.inputs = {x};
    last.options = NodeOptions{};
    last.options.function = function;
    return true;
  }

  // (x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) [* scale] [+ bias] over
  // the trailing axes, matched from the first REDUCE_MEAN.
  bool layer_norm(Node& mean) {
    const int x = mean.inputs[0];
    const Value& xv = g.values[x];
    if (xv.dtype != DType::kFloat32 || !mean.options.keepdims || mean.options.axes.empty()) return false;
    const std::vector<int64_t>& axes = mean.options.axes;  // normalized, sorted
    for (size_t k = 0; k < axes.size(); ++k)
      if (axes[k] != xv.rank() - static_cast<int64_t>(axes.size() - k) || axes[k] < 1) return false;
    const int m = mean.outputs[0];
    Node* sub = only_reader(m, Op::kSub);
    if (!sub || sub->inputs[0] != x || sub->inputs[1] != m) return false;
    const int d = sub->outputs[0];
    if (outputs[d] || consumers[d].size() != 2) return false;
    Node* square = nullptr;
    Node* div = nullptr;
    for (int c : consumers[d]) {
      Node& n = g.nodes[c];
      if (n.op == Op::kUnary && n.options.function == UnaryFunction::kPow && n.options.exponent == 2.0f) square = &n;
      else if (n.op == Op::kMul && n.inputs[0] == d && n.inputs[1] == d) square = &n;
      else if (n.op == Op::kDiv && n.inputs[0] == d && n.options.activation == Activation::kNone) div = &n;
    }
    if (!square || !div) return false;
    Node* variance = only_reader(square->outputs[0], Op::kReduceMean);
    if (!variance || variance->options.axes != axes || !variance->options.keepdims) return false;
    Node* plus_eps = only_reader(variance->outputs[0], Op::kAdd);
    const int eps = plus_eps ? other(*plus_eps, variance->outputs[0]) : -1;
    if (eps < 0 || !g.values[eps].is_constant || g.values[eps].floats.size() != 1) return false;
    Node* root = only_reader(plus_eps->outputs[0], Op::kUnary);
    if (!root || root->options.function != UnaryFunction::kSqrt || div->inputs[1] != root->outputs[0] ||
        consumers[root->outputs[0]].size() != 1 || outputs[root->outputs[0]])
      return false;
    // The affine part: MUL by a constant scale, then ADD of a constant bias.
    const std::vector<int64_t> inner(xv.shape.begin() + axes[0], xv.shape.end());
    Node* last = div;
    int scale = -1, bias = -1;
    if (Node* mul = only_reader(div->outputs[0], Op::kMul)) {
      const int c = other(*mul, div->outputs[0]);
      if (c >= 0 && fits(c, inner)) {
        scale = c;
        last = mul;
        if (Node* add = only_reader(mul->outputs[0], Op::kAdd)) {
          const int b = other(*add, mul->outputs[0]);
          if (b >= 0 && fits(b, inner)) {
            bias = b;
            last = add;
          }
        }
      }
    }
    if (scale < 0)
      scale = g.add_float_constant(mean.name + "_scale", inner, std::vector<float>(static_cast<size_t>(product(inner)), 1.0f));
    NodeOptions o;
    o.axis = axes[0];
    o.epsilon = g.values[eps].floats[0];
    last->op = Op::kLayerNorm;
    last->inputs = bias >= 0 ? std::vector<int>{x, scale, bias} : std::vector<int>{x, scale};
    last->options = o;
    last->name = mean.name;
    return true;
  }
  // A float constant of the normalised shape (leading 1s allowed), read as is.
  bool fits(int v, const std::vector<int64_t>& inner) const {
    const Value& c = g.values[v];
    if (!c.is_constant || c.dtype != DType::kFloat32 || c.row_broadcast || c.rank() < static_cast<int64_t>(inner.size()))
      return false;
    const size_t lead = c.shape.size() - inner.size();
    for (size_t k = 0; k < c.shape.size(); ++k)
      if (k < lead ? c.shape[k] != 1 : c.shape[k] != inner[k - lead]) return false;
    return true;
  }
};

}  // namespace

void fuse_norms(Graph& graph) {
  Matcher match{graph};
  bool changed = false;
  const size_t count = graph.nodes.size();
  for (size_t i = 0; i < count; ++i) {
    Node& n = graph.nodes[i];
    if (n.dead) continue;
    bool fused = false;
    if (n.op == Op::kReduceMean) fused = match.layer_norm(n);
    else if (n.op == Op::kUnary && n.options.function == UnaryFunction::kErf) fused = match.gelu_erf(n);
    else if (n.op == Op::kTanh) fused = match.gelu_tanh(n);
    if (fused) {
      changed = true;
      match.consumers = graph.consumers();
    }
  }
  if (changed) eliminate_dead_code(graph);
}

}  // namespace edgemtl::converter
