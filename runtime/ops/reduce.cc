// REDUCE_SUM, REDUCE_MEAN, REDUCE_MAX, REDUCE_MIN, REDUCE_PROD, REDUCE_L2 over a
// set of axes >= 1 (keepdims or not: same bytes). One verify and prepare for all.
#include "runtime/kernels/reduce.h"
#include "runtime/ops/registry.h"

namespace edgemtl {
namespace {

struct ReduceState {
  bool reduced[kMaxRank] = {false};
};

Status verify(const OpVerifier& v) {
  EMTL_RETURN_IF_ERROR(v.arity(1, 1));
  const schema::ReduceOptions* options;
  EMTL_RETURN_IF_ERROR(v.get_options(schema::OpOptions::ReduceOptions, true, &options));
  EMTL_RETURN_IF_ERROR(v.expect_dtype("input", v.input(0), schema::DType::FLOAT32));
  EMTL_RETURN_IF_ERROR(v.expect_dtype("output", v.output(), schema::DType::FLOAT32));
  const Shape x = v.input_shape(0);
  if (!options->axes() || options->axes()->size() == 0)
    return Status::error(Error::kInvalidModel, "%s: no axes to reduce", v.where());
  bool reduced[kMaxRank] = {false};
  for (uint32_t k = 0; k < options->axes()->size(); ++k) {
    const int axis = options->axes()->Get(k);
    EMTL_RETURN_IF_ERROR(v.check_axis(axis, x.rank));
    if (reduced[axis]) return Status::error(Error::kInvalidModel, "%s: axis %d listed twice", v.where(), axis);
    reduced[axis] = true;
  }
  Shape y;
  for (int d = 0; d < x.rank; ++d) {
    if (!reduced[d]) y[y.rank++] = x[d];
    else if (options->keepdims()) y[y.rank++] = 1;
  }
  return v.expect_shape(y);
}

Status prepare(PrepareContext&, PreparedOp& p) {
  auto* state = p.state.emplace<ReduceState>();
  if (!state) return Status::error(Error::kOutOfMemory, "cannot allocate a reduction");
  for (int axis : *p.op->options_as_ReduceOptions()->axes()) state->reduced[axis] = true;
  return Status::ok();
}

Status run_sum(const RunContext& context, PreparedOp& p) {
  reduce_f32(context.input(p, 0), p.state.get<ReduceState>().reduced, false, context.output(p));
  return Status::ok();
}

Status run_mean(const RunContext& context, PreparedOp& p) {
  reduce_f32(context.input(p, 0), p.state.get<ReduceState>().reduced, true, context.output(p));
  return Status::ok();
}

template <ReduceKind kind>
Status run_other(const RunContext& context, PreparedOp& p) {
  reduce_f32(context.input(p, 0), p.state.get<ReduceState>().reduced, kind, context.output(p));
  return Status::ok();
}

}  // namespace

extern const OpRegistration kReduceSumOp = {schema::OpType::REDUCE_SUM, verify, prepare, run_sum, nullptr, false, {}};
extern const OpRegistration kReduceMeanOp = {
    schema::OpType::REDUCE_MEAN, verify, prepare, run_mean, nullptr, false, {}};

extern const OpRegistration kReduceMaxOp = {
    schema::OpType::REDUCE_MAX, verify, prepare, run_other<ReduceKind::kMax>, nullptr, false, {}};
extern const OpRegistration kReduceMinOp = {
    schema::OpType::REDUCE_MIN, verify, prepare, run_other<ReduceKind::kMin>, nullptr, false, {}};
extern const OpRegistration kReduceProdOp = {
    schema::OpType::REDUCE_PROD, verify, prepare, run_other<ReduceKind::kProd>, nullptr, false, {}};
extern const OpRegistration kReduceL2Op = {
    schema::OpType::REDUCE_L2, verify, prepare, run_other<ReduceKind::kL2>, nullptr, false, {}};

}  // namespace edgemtl
