#include "runtime/ops/registry.h"

namespace edgemtl {

// Defined in the operator files (runtime/ops/*.cc), one per schema::OpType.
extern const OpRegistration kFullyConnectedOp, kEmbeddingOp, kEmbeddingMultiOp, kBagOp;
extern const OpRegistration kAddOp, kSubOp, kMulOp, kDivOp, kMaximumOp, kMinimumOp;
extern const OpRegistration kEqualOp, kNotOp, kWhereOp, kCastOp;
extern const OpRegistration kReluOp, kSigmoidOp, kTanhOp, kLeakyReluOp, kClipOp, kPreluOp;
extern const OpRegistration kSoftmaxOp, kReduceSumOp, kReduceMeanOp, kMatmulOp, kMixOp;
extern const OpRegistration kRecurrentOp;
extern const OpRegistration kConcatOp, kTakeOp, kTransposeOp, kReshapeOp, kBroadcastRowsOp;
extern const OpRegistration kUnaryOp, kIsNanOp, kIsInfOp, kCompareOp, kLogicalOp;
extern const OpRegistration kReduceMaxOp, kReduceMinOp, kReduceProdOp, kReduceL2Op, kLayerNormOp;

namespace {

// The table, in any order: find_op indexes it by each entry's own type, so a
// misplaced line cannot mislabel an operator.
const OpRegistration* const kRegistrations[] = {
    &kFullyConnectedOp, &kEmbeddingOp, &kEmbeddingMultiOp,
    &kAddOp, &kSubOp, &kMulOp, &kDivOp, &kMaximumOp, &kMinimumOp,
    &kEqualOp, &kNotOp, &kWhereOp, &kCastOp,
    &kReluOp, &kSigmoidOp, &kTanhOp, &kLeakyReluOp, &kClipOp, &kPreluOp,
    &kSoftmaxOp, &kReduceSumOp, &kReduceMeanOp, &kMatmulOp, &kMixOp,
    &kConcatOp, &kTakeOp, &kTransposeOp, &kReshapeOp, &kBroadcastRowsOp,
    &kUnaryOp, &kIsNanOp, &kIsInfOp, &kCompareOp, &kLogicalOp,
    &kReduceMaxOp, &kReduceMinOp, &kReduceProdOp, &kReduceL2Op, &kLayerNormOp,
    &kBagOp,
    &kRecurrentOp,
};

constexpr size_t kNumTypes = static_cast<size_t>(schema::OpType::MAX) + 1;

struct OpTable {
  const OpRegistration* by_type[kNumTypes] = {};
  OpTable() {
    for (const OpRegistration* registration : kRegistrations)
      by_type[static_cast<size_t>(registration->type)] = registration;
  }
};

const OpTable& op_table() {
  static const OpTable table;  // built on first use; lookups happen at load and prepare only
  return table;
}

}  // namespace

const OpRegistration* find_op(schema::OpType type) {
  const size_t index = static_cast<size_t>(type);
  return index < kNumTypes ? op_table().by_type[index] : nullptr;
}

const OpPlanning& op_planning(schema::OpType type) { return find_op(type)->planning; }

}  // namespace edgemtl
