#include "converter/passes/passes.h"

namespace edgemtl::converter {

void eliminate_dead_code(Graph& g) {
  std::vector<bool> needed = g.output_mask();
  for (size_t i = g.nodes.size(); i-- > 0;) {
    Node& n = g.nodes[i];
    if (n.dead) continue;
    bool live = false;
    for (int v : n.outputs) live |= needed[v];
    if (!live) {
      n.dead = true;
      continue;
    }
    for (int v : n.inputs) needed[v] = true;
  }
  g.compact();
}

}  // namespace edgemtl::converter
