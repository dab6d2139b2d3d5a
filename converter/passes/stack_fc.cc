#include <map>

#include "converter/passes/passes.h"

namespace edgemtl::converter {
namespace {

Op activation_op(Activation a) {
  switch (a) {
    case Activation::kRelu: return Op::kRelu;
    case Activation::kSigmoid: return Op::kSigmoid;
    case Activation::kTanh: return Op::kTanh;
    default: return Op::kLeakyRelu;
  }
}

void stack_group(Graph& g, const std::vector<int>& group) {
  const Node first = g.nodes[group[0]];
  const int x = first.inputs[0];
  const int64_t k = g.values[first.inputs[1]].shape[1];
  bool any_bias = false, same_activation = true;
  for (int n : group) {
    const Node& fc = g.nodes[n];
    any_bias |= fc.inputs.size() == 3;
    same_activation &= fc.options.activation == first.options.activation && fc.options.alpha == first.options.alpha;
  }
  std::vector<float> weight, bias;
  int64_t rows = 0;
  for (int n : group) {
    const Node& fc = g.nodes[n];
    const Value& w = g.values[fc.inputs[1]];
    weight.insert(weight.end(), w.floats.begin(), w.floats.end());
    if (fc.inputs.size() == 3) {
      const auto& b = g.values[fc.inputs[2]].floats;
      bias.insert(bias.end(), b.begin(), b.end());
    } else {
      bias.insert(bias.end(), w.shape[0], 0.0f);
    }
    rows += w.shape[0];
  }
  std::vector<int> inputs = {x, g.add_float_constant(first.name + "_stacked_weight", {rows, k}, weight)};
  if (any_bias) inputs.push_back(g.add_float_constant(first.name + "_stacked_bias", {rows}, bias));
  NodeOptions wide_options;
  if (same_activation) {
    wide_options.activation = first.options.activation;
    wide_options.alpha = first.options.alpha;
  }
  const int wide = g.emit(Op::kFullyConnected, inputs, wide_options, first.name, first.name + "_stacked");
  const int64_t axis = g.values[wide].rank() - 1;
  int64_t begin = 0;
  for (int n : group) {
    Node fc = g.nodes[n];
    g.nodes[n].dead = true;
    const int64_t width = g.values[fc.inputs[1]].shape[0];
    NodeOptions take;
    take.axis = axis;
    for (int64_t i = 0; i < width; ++i) take.indices.push_back(begin + i);
    begin += width;
    const int y = fc.outputs[0];
    if (same_activation || fc.options.activation == Activation::kNone) {
      g.add_node(Op::kTake, {wide}, y, take, fc.name);
    } else {
      int slice = g.add_activation(g.values[y].name + "_pre", DType::kFloat32, g.values[y].shape);
      g.add_node(Op::kTake, {wide}, slice, take, fc.name);
      NodeOptions act;
      act.alpha = fc.options.alpha;
      g.add_node(activation_op(fc.options.activation), {slice}, y, act, fc.name);
    }
  }
}

}  // namespace

void stack_parallel_fcs(Graph& g) {
  // Groups in order of first appearance, for deterministic output.
  std::map<int, std::vector<int>> by_input;
  std::vector<int> order;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.dead || n.op != Op::kFullyConnected || g.values[n.inputs[0]].is_constant) continue;
    auto& group = by_input[n.inputs[0]];
    if (group.empty()) order.push_back(n.inputs[0]);
    group.push_back(static_cast<int>(i));
  }
  bool changed = false;
  for (int x : order) {
    if (by_input[x].size() < 2) continue;
    stack_group(g, by_input[x]);
    changed = true;
  }
  if (changed) g.compact();
}

}  // namespace edgemtl::converter
