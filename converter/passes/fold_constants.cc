#include "converter/passes/passes.h"

namespace edgemtl::converter {

void fold_constants(Graph& g) {
  for (Node& n : g.nodes) {
    if (n.dead) continue;
    bool all_constant = true;
    for (int v : n.inputs) all_constant &= g.values[v].is_constant;
    if (!all_constant) continue;
    Value& out = g.values[n.outputs[0]];
    Value folded = evaluate(g, n.op, n.inputs, n.options, out.dtype, out.shape);
    folded.name = out.name;
    out = std::move(folded);
    n.dead = true;
  }
  g.compact();
}

}  // namespace edgemtl::converter
