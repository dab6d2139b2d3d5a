// MIXes of the same experts (MMoE: one gate per task) as one MIX of G
// mixtures: the kernel then reads each expert row once for all G gates
// instead of once per gate (runtime/kernels/mix.h). Gates that are softmaxes
// of adjacent columns of one layer become one softmax over [rows, G, E].
#include <tuple>
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

// The node producing `value` when it is an `op` that only node `reader` reads, else -1.
int sole_producer(const Graph& g, const std::vector<std::vector<int>>& consumers, const std::vector<bool>& outputs,
                  int value, Op op, int reader) {
  const int producer = g.values[value].producer;
  if (producer < 0 || g.nodes[producer].op != op || outputs[value]) return -1;
  const std::vector<int>& readers = consumers[value];
  return readers.size() == 1 && readers[0] == reader ? producer : -1;
}

// When gate j is SOFTMAX(TAKE(x, columns s + j E .. s + (j + 1) E - 1)) for
// one x (MMoE: the task gates of one stacked gate layer), each read only by
// its MIX: x's columns s .. s + G E - 1 (x itself when that is all of it)
// seen as [rows, G, E], one SOFTMAX over the last axis, seen as [rows, G E].
// The same values as the G softmaxes put side by side, with no TAKE copies and
// no CONCAT. -1 when the gates are not such.
int softmax_of_adjacent_gates(Graph& g, const std::vector<int>& group, Side stage, const std::string& name) {
  const auto consumers = g.consumers();
  const std::vector<bool> outputs = g.output_mask();
  const int64_t experts = g.values[g.nodes[group[0]].inputs[0]].shape[1];
  int x = -1;
  int64_t start = 0;
  std::vector<int> replaced;  // the TAKEs and SOFTMAXes, dead once the MIXes are
  for (size_t j = 0; j < group.size(); ++j) {
    const int softmax = sole_producer(g, consumers, outputs, g.nodes[group[j]].inputs[0], Op::kSoftmax, group[j]);
    if (softmax < 0 || g.nodes[softmax].options.axis != 1) return -1;
    const int take_node = sole_producer(g, consumers, outputs, g.nodes[softmax].inputs[0], Op::kTake, softmax);
    if (take_node < 0) return -1;
    const Node& take = g.nodes[take_node];
    if (take.options.axis != 1 || g.values[take.inputs[0]].rank() != 2) return -1;
    const std::vector<int64_t>& columns = take.options.indices;
    if (static_cast<int64_t>(columns.size()) != experts) return -1;
    if (j == 0) {
      x = take.inputs[0];
      start = columns[0];
    }
    if (take.inputs[0] != x) return -1;
    for (int64_t i = 0; i < experts; ++i)
      if (columns[i] != start + static_cast<int64_t>(j) * experts + i) return -1;
    replaced.insert(replaced.end(), {softmax, take_node});
  }
  for (int node : replaced) g.nodes[node].dead = true;
  const auto mixtures = static_cast<int64_t>(group.size());
  int source = x;
  if (start != 0 || g.values[x].shape[1] != mixtures * experts) {
    NodeOptions columns;
    columns.axis = 1;
    for (int64_t i = 0; i < mixtures * experts; ++i) columns.indices.push_back(start + i);
    source = g.emit(Op::kTake, {x}, columns, name + "_gate_columns");
    g.nodes[g.values[source].producer].stage = stage;
  }
  NodeOptions grouped, last_axis, flat;
  grouped.shape = {kRows, mixtures, experts};
  last_axis.axis = 2;
  flat.shape = {kRows, mixtures * experts};
  int value = source;
  for (auto [op, options, suffix] : {std::tuple{Op::kReshape, &grouped, "_gate_groups"},
                                     std::tuple{Op::kSoftmax, &last_axis, "_gate_softmax"},
                                     std::tuple{Op::kReshape, &flat, "_gates"}}) {
    value = g.emit(op, {value}, *options, name + suffix, name + suffix);
    g.nodes[g.values[value].producer].stage = stage;
  }
  return value;
}

void merge_group(Graph& g, const std::vector<int>& group) {
  const Node first = g.nodes[group[0]];
  const std::vector<int> experts(first.inputs.begin() + 1, first.inputs.end());
  const int64_t width = g.values[experts[0]].shape[1];
  int gate = softmax_of_adjacent_gates(g, group, first.stage, first.name);
  if (gate < 0) {
    std::vector<int> gates;
    for (int m : group) gates.push_back(g.nodes[m].inputs[0]);
    NodeOptions along_columns;
    along_columns.axis = 1;
    gate = g.emit(Op::kConcat, gates, along_columns, first.name + "_gates", first.name + "_gates");
    g.nodes[g.values[gate].producer].stage = first.stage;
  }
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
  merge_node_groups<Key>(
      g,
      [&](const Node& mix) -> std::optional<Key> {
        if (!mergeable(g, mix)) return std::nullopt;
        return Key{mix.stage, std::vector<int>(mix.inputs.begin() + 1, mix.inputs.end())};
      },
      merge_group);
}

}  // namespace edgemtl::converter
