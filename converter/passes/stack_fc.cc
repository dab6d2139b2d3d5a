#include <tuple>

#include "converter/passes/node_groups.h"
#include "converter/passes/passes.h"

namespace edgemtl::converter {
namespace {

// Stacks FCs that read the same input and share one activation: one wide FC
// keeps that activation fused, and a TAKE per original FC reads its columns.
void stack_group(Graph& g, const std::vector<int>& group) {
  const Node first = g.nodes[group[0]];
  const int x = first.inputs[0];
  const int64_t k = g.values[first.inputs[1]].shape[1];
  bool any_bias = false;
  for (int n : group) any_bias |= g.nodes[n].inputs.size() == 3;
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
  wide_options.activation = first.options.activation;
  wide_options.alpha = first.options.alpha;
  const int wide = g.emit(Op::kFullyConnected, inputs, wide_options, first.name, first.name + "_stacked");
  const int64_t axis = g.values[wide].rank() - 1;
  int64_t begin = 0;
  for (int n : group) {
    const Node fc = g.nodes[n];
    g.nodes[n].dead = true;
    const int64_t width = g.values[fc.inputs[1]].shape[0];
    NodeOptions take;
    take.axis = axis;
    for (int64_t i = 0; i < width; ++i) take.indices.push_back(begin + i);
    begin += width;
    g.add_node(Op::kTake, {wide}, fc.outputs[0], take, fc.name);
  }
}

}  // namespace

void stack_parallel_fcs(Graph& g) {
  // Groups keyed by (input, activation, alpha). Experts (RELU) and gates
  // (none) of one input become two wide FCs, so the experts' RELU stays fused
  // in the GEMM (or in the ADD of the user/item split) instead of running per slice.
  using Key = std::tuple<int, Activation, float>;
  merge_node_groups<Key>(
      g,
      [&](const Node& n) -> std::optional<Key> {
        if (n.dead || n.op != Op::kFullyConnected || g.values[n.inputs[0]].is_constant) return std::nullopt;
        const float alpha = n.options.activation == Activation::kLeakyRelu ? n.options.alpha : 0.0f;
        return Key{n.inputs[0], n.options.activation, alpha};
      },
      stack_group);
}

}  // namespace edgemtl::converter
