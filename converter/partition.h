// The user/item/cross partition: values that depend only on USER features
// (and constants) are computed once per request in the user stage; values that
// depend only on ITEM features once per candidate in the item stage (the
// runtime may cache them, Session::set_candidates); values that depend on both
// in the cross stage, on every re-rank.
#pragma once

#include <vector>

#include "converter/ir.h"

namespace edgemtl::converter {

/// Side of every value (kConstant, kUser, kItem or kCross, see join()); sets
/// Node::stage. BROADCAST_ROWS is cross (it gives a user tensor the rows of
/// the candidates for a cross op).
std::vector<Side> assign_stages(Graph& graph);

/// Splits a cross-stage FULLY_CONNECTED over CONCAT(user parts, item parts)
/// (concat on the last axis) into FC_u(concat(user parts)) with the bias in the
/// user stage plus FC_i(concat(item parts)) without bias (item stage when every
/// item part is item-only), added with broadcast in the cross stage (ADD
/// carries the original activation).
void split_mixed_fcs(Graph& graph);

/// Makes the stages read only what they may: a cross-stage op whose semantics
/// do not broadcast a one-row user tensor reads it through BROADCAST_ROWS, and
/// a USER feature the cross stage reads is first copied in the user stage.
void insert_row_broadcasts(Graph& graph);

/// User-stage tensors (outputs or copies) the cross stage or a task reads,
/// ascending: the user cache (Model.user_to_item).
std::vector<int> user_to_item(const Graph& graph);

/// Item-stage outputs and ITEM feature tensors the cross stage or a task
/// reads, ascending: the candidate cache (Model.item_to_cross).
std::vector<int> item_to_cross(const Graph& graph);

}  // namespace edgemtl::converter
