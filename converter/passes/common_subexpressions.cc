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

void add_list(std::ostringstream& key, const std::vector<int64_t>& values) {
  for (int64_t v : values) key << v << ',';
  key << '|';
}

// Everything that determines a node's result: the op, its inputs and every field of
// NodeOptions (a field left out merges nodes that differ only in it, e.g. EXP and LOG).
std::string node_key(const Node& n) {
  const NodeOptions& o = n.options;
  std::ostringstream key;
  key << static_cast<int>(n.op) << '|';
  for (int v : n.inputs) key << v << ',';
  key << '|' << static_cast<int>(o.activation) << ',' << bits(o.alpha) << ',' << o.axis << ',' << o.keepdims << ','
      << bits(o.clip_min) << ',' << bits(o.clip_max) << ',' << static_cast<int>(o.cast_to) << ',' << o.default_row << ','
      << o.bag_mode << '|';
  for (const std::vector<int64_t>* list : {&o.indices, &o.axes, &o.shape, &o.row_offsets, &o.row_counts, &o.default_rows})
    add_list(key, *list);
  key << static_cast<int>(o.function) << ',' << bits(o.exponent) << ',' << static_cast<int>(o.predicate) << ','
      << static_cast<int>(o.logical) << ',' << o.detect_positive << o.detect_negative << ',' << bits(o.epsilon) << '|'
      << o.lstm << ',' << o.direction << ',' << o.hidden_size << ',' << o.linear_before_reset << o.initial_state
      << o.sequence_lens << '|' << static_cast<int>(o.input_activation) << ',' << o.addend_offset << ','
      << bits(o.input_alpha);
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
