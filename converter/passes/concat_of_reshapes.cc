#include "converter/passes/passes.h"

namespace edgemtl::converter {

void concat_of_reshapes(Graph& g) {
  const auto outputs = g.output_mask();
  bool changed = false;
  const size_t node_count = g.nodes.size();
  for (size_t c = 0; c < node_count; ++c) {
    if (g.nodes[c].dead || g.nodes[c].op != Op::kConcat) continue;
    const Node& concat = g.nodes[c];
    const Value y = g.values[concat.outputs[0]];  // a copy: values grow below
    const int64_t axis = concat.options.axis;
    // Per row the inputs lie one after the other only with nothing before the axis.
    if (!y.is_activation() || y.rank() < 3 || axis < 1 || product(y.shape, 1, static_cast<size_t>(axis)) != 1)
      continue;
    std::vector<int> flat;
    int64_t width = 0;
    for (int v : concat.inputs) {
      const Value& part = g.values[v];
      if (part.producer < 0 || outputs[v]) break;
      const Node& reshape = g.nodes[part.producer];
      if (reshape.dead || reshape.op != Op::kReshape) break;
      const Value& x = g.values[reshape.inputs[0]];
      if (!x.is_activation() || x.rank() != 2 || x.shape[0] != part.shape[0]) break;
      flat.push_back(reshape.inputs[0]);
      width += x.shape[1];
    }
    if (flat.size() != concat.inputs.size() || width != y.elements_per_row()) continue;
    // CONCAT(RESHAPE(x_1), ..., RESHAPE(x_k)) = RESHAPE(CONCAT(x_1, ..., x_k)) of the rows [x_1 | ... | x_k].
    const int joined = g.add_activation(g.unique_name(y.name + "_flat"), DType::kFloat32, {kRows, width});
    NodeOptions along_columns;
    along_columns.axis = 1;
    const Side stage = concat.stage;
    const std::string name = concat.name;
    const int added = g.add_node(Op::kConcat, flat, joined, along_columns, name);
    g.nodes[added].stage = stage;
    Node& rewritten = g.nodes[c];
    rewritten.op = Op::kReshape;
    rewritten.inputs = {joined};
    rewritten.options = NodeOptions{};
    rewritten.options.shape = y.shape;
    changed = true;
  }
  if (changed) g.compact();
}

}  // namespace edgemtl::converter
