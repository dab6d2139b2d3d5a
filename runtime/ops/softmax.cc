// SOFTMAX along one axis >= 1 (XNNPACK on the last axis, a loop otherwise).
#include "runtime/kernels/softmax.h"
#include "runtime/ops/registry.h"

namespace edgemtl {
namespace {

Status verify(const OpVerifier& v) {
  EMTL_RETURN_IF_ERROR(v.arity(1, 1));
  const schema::AxisOptions* options;
  EMTL_RETURN_IF_ERROR(v.get_options(schema::OpOptions::AxisOptions, true, &options));
  EMTL_RETURN_IF_ERROR(v.expect_dtype("input", v.input(0), schema::DType::FLOAT32));
  EMTL_RETURN_IF_ERROR(v.expect_dtype("output", v.output(), schema::DType::FLOAT32));
  EMTL_RETURN_IF_ERROR(v.check_axis(options->axis(), v.input_shape(0).rank));
  return v.expect_shape(v.input_shape(0));
}

Status prepare(PrepareContext& context, PreparedOp& p) {
  auto* kernel = p.state.emplace<Softmax>();
  if (!kernel) return Status::error(Error::kOutOfMemory, "cannot allocate a softmax");
  return kernel->create(context.tensor(p.input(0)).declared, p.op->options_as_AxisOptions()->axis());
}

Status run(const RunContext& context, PreparedOp& p) {
  return p.state.get<Softmax>().run(context.input(p, 0), context.output(p));
}

}  // namespace

extern const OpRegistration kSoftmaxOp = {schema::OpType::SOFTMAX, verify, prepare, run, nullptr, false, {}};

}  // namespace edgemtl
