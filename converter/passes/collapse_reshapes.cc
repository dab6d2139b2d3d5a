#include "converter/passes/passes.h"

namespace edgemtl::converter {

void collapse_reshapes(Graph& g) {
  auto outputs = g.output_mask();
  for (Node& n : g.nodes) {
    if (n.dead || n.op != Op::kReshape) continue;
    // A reshape only regroups the elements of each row: reshape(reshape(x)) = reshape(x).
    int producer = g.values[n.inputs[0]].producer;
    while (producer >= 0 && !g.nodes[producer].dead && g.nodes[producer].op == Op::kReshape) {
      n.inputs[0] = g.nodes[producer].inputs[0];
      producer = g.values[n.inputs[0]].producer;
    }
    const int y = n.outputs[0];
    if (g.values[n.inputs[0]].shape == g.values[y].shape && !outputs[y]) {
      g.replace_uses(y, n.inputs[0]);
      n.dead = true;
    }
  }
  g.compact();
}

}  // namespace edgemtl::converter
