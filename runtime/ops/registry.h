// The operator registry: one OpRegistration per schema::OpType, defined in the
// operator's file under runtime/ops/ and listed once in registry.cc. The
// verifier (format/model.cc), the planner and the Session (executor/) reach
// operators only through it.
#pragma once

#include <cstdint>

#include "runtime/core/error.h"
#include "runtime/ops/op_context.h"
#include "runtime/ops/op_verifier.h"
#include "runtime/planner/allocation_info.h"
#include "schema/edgemtl_generated.h"

namespace edgemtl {

/// Everything the runtime knows about one operator type. Static, immutable.
struct OpRegistration {
  schema::OpType type;
  /// Checks arity, dtypes, shapes and options of one operator (the file-level
  /// checks, that indices are in range and readable, are done before).
  Status (*verify)(const OpVerifier& verifier);
  /// Null: nothing to prepare. Otherwise makes `op.state` (kernels, packed
  /// weights, strings) once per Session, and may choose `op.run`.
  Status (*prepare)(PrepareContext& context, PreparedOp& op);
  /// Computes the output; its rows are already set in the output's slot.
  /// Must not allocate.
  RunFn run;
  /// Null: 0. Otherwise 2 * multiply-adds of the run just done (for profiles).
  uint64_t (*flops)(const RunContext& context, const PreparedOp& op);
  /// True: the output has the stage's rows (BROADCAST_ROWS); false: the most
  /// rows of any activation input (a 1-row user tensor broadcasts).
  bool rows_from_stage;
  OpPlanning planning;
};

/// The registration of `type`, or null for a type this runtime does not know.
const OpRegistration* find_op(schema::OpType type);

/// find_op(type)->planning for a known type (an OpPlanningOf for AllocationInfo).
const OpPlanning& op_planning(schema::OpType type);

}  // namespace edgemtl
