// The user/item partition: values that depend only on USER features (and
// constants) are computed once per request in the user stage; the rest per
// batch of items in the item stage.
#pragma once

#include <vector>

#include "converter/ir.h"

namespace edgemtl::converter {

/// Side of every value (kConstant, kUser or kItem); sets Node::stage.
std::vector<Side> assign_stages(Graph& graph);

/// Splits an item-stage FULLY_CONNECTED over CONCAT(user parts, item parts)
/// (concat on the last axis) into FC_u(concat(user parts)) with the bias in the
/// user stage plus FC_i(concat(item parts)) without bias, added with broadcast
/// (ADD carries the original activation).
void split_mixed_fcs(Graph& graph);

/// Makes the stages read only what they may: an item-stage op whose semantics
/// do not broadcast a one-row user tensor reads it through BROADCAST_ROWS, and
/// a USER feature the item stage reads is first copied in the user stage.
void insert_row_broadcasts(Graph& graph);

/// User-stage tensors the item stage (or a task) reads, ascending.
std::vector<int> user_to_item(const Graph& graph);

}  // namespace edgemtl::converter
