// Nodes grouped by a key, for the passes that merge parallel nodes
// (stack_fc.cc, merge_mixtures.cc).
#pragma once

#include <map>
#include <optional>
#include <vector>

#include "converter/ir.h"

namespace edgemtl::converter {

/// The indices of g's nodes for which `key_of(node)` gives a key, grouped by
/// that key; groups in order of their first node, nodes in graph order, so
/// that what a pass writes does not depend on the keys' ordering.
template <class Key, class KeyOf>
std::vector<std::vector<int>> group_nodes(const Graph& g, KeyOf key_of) {
  std::map<Key, size_t> group_of;
  std::vector<std::vector<int>> groups;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    std::optional<Key> key = key_of(g.nodes[n]);
    if (!key) continue;
    const auto [at, added] = group_of.emplace(std::move(*key), groups.size());
    if (added) groups.emplace_back();
    groups[at->second].push_back(static_cast<int>(n));
  }
  return groups;
}

/// group_nodes, then `merge(g, group)` for every group of two or more nodes,
/// then g.compact() when any was merged (the merges mark nodes dead).
template <class Key, class KeyOf, class Merge>
void merge_node_groups(Graph& g, KeyOf key_of, Merge merge) {
  bool changed = false;
  for (const std::vector<int>& group : group_nodes<Key>(g, key_of)) {
    if (group.size() < 2) continue;
    merge(g, group);
    changed = true;
  }
  if (changed) g.compact();
}

}  // namespace edgemtl::converter
