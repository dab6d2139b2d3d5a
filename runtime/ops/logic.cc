// EQUAL, NOT, WHERE, CAST: plain loops (runtime/kernels/elementwise.h) over any
// compute dtype, with numpy broadcasting.
#include "runtime/kernels/elementwise.h"
#include "runtime/ops/registry.h"

namespace edgemtl {
namespace {

using schema::DType;

Status verify_equal(const OpVerifier& v) {
  EMTL_RETURN_IF_ERROR(v.arity(2, 2));
  EMTL_RETURN_IF_ERROR(v.expect_no_options());
  EMTL_RETURN_IF_ERROR(v.expect_compute_dtype("input 0", v.input(0)));
  EMTL_RETURN_IF_ERROR(v.expect_dtype("input 1", v.input(1), v.dtype(v.input(0))));
  EMTL_RETURN_IF_ERROR(v.expect_dtype("output", v.output(), DType::BOOL));
  Shape y;
  EMTL_RETURN_IF_ERROR(v.broadcast_inputs(0, 2, &y));
  return v.expect_shape(y);
}

Status run_equal(const RunContext& context, PreparedOp& p) {
  equal(context.input(p, 0), context.input(p, 1), context.output(p));
  return Status::ok();
}

Status verify_not(const OpVerifier& v) {
  EMTL_RETURN_IF_ERROR(v.arity(1, 1));
  EMTL_RETURN_IF_ERROR(v.expect_no_options());
  EMTL_RETURN_IF_ERROR(v.expect_dtype("input", v.input(0), DType::BOOL));
  EMTL_RETURN_IF_ERROR(v.expect_dtype("output", v.output(), DType::BOOL));
  return v.expect_shape(v.input_shape(0));
}

Status run_not(const RunContext& context, PreparedOp& p) {
  logical_not(context.input(p, 0), context.output(p));
  return Status::ok();
}

Status verify_where(const OpVerifier& v) {
  EMTL_RETURN_IF_ERROR(v.arity(3, 3));
  EMTL_RETURN_IF_ERROR(v.expect_no_options());
  EMTL_RETURN_IF_ERROR(v.expect_dtype("condition", v.input(0), DType::BOOL));
  EMTL_RETURN_IF_ERROR(v.expect_compute_dtype("input 1", v.input(1)));
  EMTL_RETURN_IF_ERROR(v.expect_dtype("input 2", v.input(2), v.dtype(v.input(1))));
  EMTL_RETURN_IF_ERROR(v.expect_dtype("output", v.output(), v.dtype(v.input(1))));
  Shape y;
  EMTL_RETURN_IF_ERROR(v.broadcast_inputs(0, 3, &y));
  return v.expect_shape(y);
}

Status run_where(const RunContext& context, PreparedOp& p) {
  where(context.input(p, 0), context.input(p, 1), context.input(p, 2), context.output(p));
  return Status::ok();
}

Status verify_cast(const OpVerifier& v) {
  EMTL_RETURN_IF_ERROR(v.arity(1, 1));
  const schema::CastOptions* options;
  EMTL_RETURN_IF_ERROR(v.get_options(schema::OpOptions::CastOptions, true, &options));
  EMTL_RETURN_IF_ERROR(v.expect_compute_dtype("input", v.input(0)));
  EMTL_RETURN_IF_ERROR(v.expect_compute_dtype("output", v.output()));
  EMTL_RETURN_IF_ERROR(v.expect_dtype("output", v.output(), options->to()));
  return v.expect_shape(v.input_shape(0));
}

Status run_cast(const RunContext& context, PreparedOp& p) {
  cast(context.input(p, 0), context.output(p));
  return Status::ok();
}

}  // namespace

extern const OpRegistration kEqualOp = {schema::OpType::EQUAL, verify_equal, nullptr, run_equal, nullptr, false, {}};
extern const OpRegistration kNotOp = {schema::OpType::NOT, verify_not, nullptr, run_not, nullptr, false, {}};
extern const OpRegistration kWhereOp = {schema::OpType::WHERE, verify_where, nullptr, run_where, nullptr, false, {}};
extern const OpRegistration kCastOp = {schema::OpType::CAST, verify_cast, nullptr, run_cast, nullptr, false, {}};

}  // namespace edgemtl
