// MIXes of the same experts (MMoE: one gate per task) as one MIX of G
// mixtures: the kernel then reads each expert row once for all G gates
// instead of once per gate (runtime/kernels/mix.h).
#include <vector>

#include "converter/passes/node_groups.h"
#include "converter/passes/passes.h"

namespace edgemtl::converter {
namespace {

// A single mixture whose gate is computed in the MIX's own stage, so that the
// gates can be put side by side by one CONCAT of that stage.
bool mergeable(const Graph& g, const Node& mix) {
  if (mix.dead || mix.op != Op::kMix || mix.inputs.size() < 2) return false;
  const Value& gate = g.values[mix.inputs[0]];
  const int64_t experts = static_cast<int64_t>(mix.inputs.size()) - 1;
  return gate.is_activation() && gate.producer >= 0 && g.nodes[gate.producer].stage == mix.stage &&
         gate.rank() == 2 && gate.shape[1] == experts;
}

void merge_group(Graph& g, const std::vector<int>& group) {
  const Node first = g.nodes[group[0]];
  const std::vector<int> experts(first.inputs.begin() + 1, first.inputs.end());
  const int64_t width = g.values[experts[0]].shape[1];
  std::vector<int> gates;
  for (int m : group) gates.push_back(g.nodes[m].inputs[0]);
  NodeOptions along_columns;
  along_columns.axis = 1;
  const int gate = g.emit(Op::kConcat, gates, along_columns, first.name + "_gates", first.name + "_gates");
  g.nodes[g.values[gate].producer].stage = first.stage;
  std::vector<int> inputs = {gate};
  inputs.insert(inputs.end(), experts.begin(), experts.end());
  const int mixed = g.emit(Op::kMix, inputs, NodeOptions{}, first.name, first.name + "_mixtures");
  g.nodes[g.values[mixed].producer].stage = first.stage;
  // Each original output is now a TAKE of its columns (a view when only FULLY_CONNECTEDs read it).
  for (size_t j = 0; j < group.size(); ++j) {
    Node& mix = g.nodes[group[j]];
    mix.dead = true;
    NodeOptions columns;
    columns.axis = 1;
    for (int64_t i = 0; i < width; ++i) columns.indices.push_back(static_cast<int64_t>(j) * width + i);
    const int take = g.add_node(Op::kTake, {mixed}, mix.outputs[0], columns, mix.name);
    g.nodes[take].stage = first.stage;
  }
}

}  // namespace

void merge_mixtures(Graph& g) {
  // Groups keyed by (stage, experts).
  using Key = std::pair<Side, std::vector<int>>;
  const auto groups = group_nodes<Key>(g, [&](const Node& mix) -> std::optional<Key> {
    if (!mergeable(g, mix)) return std::nullopt;
    return Key{mix.stage, std::vector<int>(mix.inputs.begin() + 1, mix.inputs.end())};
  });
  bool changed = false;
  for (const std::vector<int>& group : groups) {
    if (group.size() < 2) continue;
    merge_group(g, group);
    changed = true;
  }
  if (changed) g.compact();
}

}  // namespace edgemtl::converter
