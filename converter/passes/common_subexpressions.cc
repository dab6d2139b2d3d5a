#include <cstring>
#include <map>
#include <sstream>

#include "converter/passes/passes.h"

namespace edgemtl::converter {
namespace {

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// Everything that determines a node's result.
std::string node_key(const Node& n) {
  const NodeOptions& o = n.options;
  std::ostringstream key;
  key << static_cast<int>(n.op) << '|';
  for (int v : n.inputs) key << v << ',';
  key << '|' << static_cast<int>(o.activation) << ',' << bits(o.alpha) << ',' << o.axis << ',' << o.keepdims << ','
      << bits(o.clip_min) << ',' << bits(o.clip_max) << ',' << static_cast<int>(o.cast_to) << ',' << o.default_row << '|';
  for (int64_t i : o.indices) key << i << ',';
  key << '|';
  for (int64_t a : o.axes) key << a << ',';
  key << '|';
  for (int64_t d : o.shape) key << d << ',';
  return key.str();
}

}  // namespace

void eliminate_common_subexpressions(Graph& g) {
  std::map<std::string, int> first_output;
  for (Node& n : g.nodes) {
    if (n.dead) continue;
    auto [it, inserted] = first_output.emplace(node_key(n), n.outputs[0]);
    if (inserted) continue;
    // Nodes are in execution order, so every reader of the duplicate comes later.
    g.replace_uses(n.outputs[0], it->second);
    n.dead = true;
  }
  g.compact();
}

}  // namespace edgemtl::converter
