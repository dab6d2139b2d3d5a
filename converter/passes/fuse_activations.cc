#include "converter/passes/passes.h"

namespace edgemtl::converter {

void fuse_activations(Graph& g) {
  auto consumers = g.consumers();
  auto outputs = g.output_mask();
  for (Node& n : g.nodes) {
    if (n.dead || n.options.activation != Activation::kNone) continue;
    if (n.op != Op::kFullyConnected && !is_binary_elementwise(n.op)) continue;
    const int y = n.outputs[0];
    if (g.values[y].dtype != DType::kFloat32 || outputs[y] || consumers[y].size() != 1) continue;
    Node& act = g.nodes[consumers[y][0]];
    Activation a;
    switch (act.op) {
      case Op::kRelu: a = Activation::kRelu; break;
      case Op::kSigmoid: a = Activation::kSigmoid; break;
      case Op::kTanh: a = Activation::kTanh; break;
      case Op::kLeakyRelu: a = Activation::kLeakyRelu; break;
      default: continue;
    }
    n.options.activation = a;
    n.options.alpha = act.options.alpha;
    n.outputs = act.outputs;
    act.dead = true;
  }
  g.compact();
}

}  // namespace edgemtl::converter
