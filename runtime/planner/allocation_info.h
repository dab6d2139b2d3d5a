// AllocationInfo: what the arena planner needs to know about every tensor of a
// model: the stage writing it, its lifetime in execution steps, and whether it
// is a view sharing another tensor's bytes. Kept apart from the placement
// (GreedyMemoryPlanner), as TFLite Micro keeps its allocation info apart from
// its planner; it knows no operator type, only each type's OpPlanning.
//
// Execution steps (lifetimes are inclusive ranges of them):
//   0                         user features are copied in
//   1 .. U                    user operators
//   U + 1                     item features are copied in
//   U + 2 .. U + 1 + I        item operators
//   U + 2 + I .. U + 1 + I + C cross operators
//   U + 2 + I + C             task outputs are gathered (the end)
// Tensors the cross stage reads from the user stage (user_to_item) and task
// tensors live until the end, so the user cache survives any number of score()
// calls; everything else may be reused as soon as it is dead.
//
// The candidate cache: the tensors the cross stage reads from the item stage
// (Model.item_to_cross; for a file without a cross stage, its item features)
// also get rows for max_items candidates in a second block, outside the arena
// (Session::set_candidates fills it, rank() runs the cross stage reading it).
// They are planned as roots (never a view, never written in place, never
// overwritten in place) so that their cache rows can stand in for their arena
// rows: a tensor whose root is cached reads the cache instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "runtime/core/result.h"
#include "runtime/core/shape.h"
#include "runtime/planner/memory_planner.h"
#include "schema/edgemtl_generated.h"

namespace edgemtl {

constexpr int kNoStage = -1;
constexpr int kUserStage = 0;
constexpr int kItemStage = 1;
constexpr int kCrossStage = 2;

using OperatorList = flatbuffers::Vector<flatbuffers::Offset<schema::Operator>>;

/// The three stages as the runtime runs them. A file without cross_stage
/// (written before it) is item and cross in one: its item stage runs as the
/// cross stage, the item stage is empty and the candidate cache holds its
/// ITEM feature tensors. Operator lists may be null (empty stage).
struct StageLists {
  const OperatorList* user = nullptr;
  const OperatorList* item = nullptr;
  const OperatorList* cross = nullptr;
  std::vector<int> cached;  ///< tensors of the candidate cache, ascending
};
/// The stages of a verified `model`.
StageLists stage_lists(const schema::Model* model);

/// What planning needs to know about one operator type; part of its
/// registration (runtime/ops/registry.h).
struct OpPlanning {
  /// The output shares input 0's bytes (RESHAPE).
  bool output_aliases_input = false;
  /// The output may be written over a same-shape input read last by this op
  /// (the elementwise binary ops; XNNPACK allows it).
  bool may_run_in_place = false;
  /// Input 0 may be a column view: rows read with the root's row stride
  /// (FULLY_CONNECTED).
  bool reads_column_view = false;
  /// Non-null: true when the output is consecutive columns of input 0 (axis
  /// 1), starting at *first_column (TAKE of a range). The planner decides
  /// whether it becomes a view.
  bool (*column_window)(const schema::Operator* op, int64_t* first_column) = nullptr;
};

/// The OpPlanning of `type`; must return an entry for every valid type.
using OpPlanningOf = const OpPlanning& (*)(schema::OpType type);

/// Planning facts of one tensor.
struct TensorAllocation {
  schema::DType dtype = schema::DType::FLOAT32;
  Shape declared;            // as in the file (rows -1)
  bool constant = false;
  int stage = kNoStage;      // stage writing it (feature inputs: their side)
  int feature = -1;          // feature index when it is a feature input
  int alias_of = -1;         // a view's root tensor (RESHAPE output, column view, in-place output)
  size_t column_offset = 0;  // column view: its first column in the root's rows
  size_t row_stride = 0;     // column view: the root's row width in elements; 0: dense rows
  int first_use = 0, last_use = 0;
  int buffer = -1;           // planner buffer id (roots only, after place_buffers)
  size_t planned_bytes = 0;
  bool cached = false;       // in the candidate cache (a root)
  size_t cache_offset = 0;   // cached: its first byte in the cache block (after place_buffers)
  size_t row_bytes = 0;      // cached: bytes of one row (its cache rows are dense)
};

/// Built once per Session from a verified model; then read only.
class AllocationInfo {
 public:
  /// Computes lifetimes, RESHAPE aliases, column views and in-place outputs of
  /// every tensor of the verified `model`. `cache_user` false: user features
  /// live until the end (every score() runs the user stage again).
  void build(const schema::Model* model, bool cache_user, OpPlanningOf planning_of);
  /// Sizes every root tensor (user-stage ones for `user_rows` rows, item- and
  /// cross-stage ones for `item_rows`, plus `extra_bytes` of readable slack) and
  /// places them with `planner`; then lays out the candidate cache (each cached
  /// tensor for `max_items` rows plus `extra_bytes`, 64-byte aligned).
  Status place_buffers(const schema::Model* model, size_t user_rows, size_t item_rows, size_t extra_bytes,
                       size_t max_items, MemoryPlanner* planner);
  /// Bytes of the candidate cache block (after place_buffers); 0 without cached tensors.
  size_t cache_bytes() const { return cache_bytes_; }

  const std::vector<TensorAllocation>& tensors() const { return tensors_; }
  const TensorAllocation& tensor(int index) const { return tensors_[static_cast<size_t>(index)]; }
  /// The step of the task gather, after every operator.
  int end_step() const { return end_step_; }
  int root_of(int tensor) const { return tensors_[tensor].alias_of >= 0 ? tensors_[tensor].alias_of : tensor; }

 private:
  void find_column_views(const schema::Model* model, OpPlanningOf planning_of);
  void find_in_place_outputs(const schema::Model* model, OpPlanningOf planning_of);

  std::vector<TensorAllocation> tensors_;
  int end_step_ = 0;
  size_t cache_bytes_ = 0;
};

}  // namespace edgemtl
