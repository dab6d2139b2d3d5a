// ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM: FLOAT32 with numpy broadcasting on
// XNNPACK (BinaryElementwise), fused activation from BinaryOptions. May write
// over an input that dies here (the planner decides).
#include <xnnpack.h>

#include "runtime/kernels/binary.h"
#include "runtime/ops/registry.h"

namespace edgemtl {
namespace {

Status verify(const OpVerifier& v) {
  EMTL_RETURN_IF_ERROR(v.arity(2, 2));
  const schema::BinaryOptions* options;
  EMTL_RETURN_IF_ERROR(v.get_options(schema::OpOptions::BinaryOptions, false, &options));
  if (options) EMTL_RETURN_IF_ERROR(v.check_activation(options->activation()));
  for (uint32_t k = 0; k < 2; ++k) EMTL_RETURN_IF_ERROR(v.expect_dtype("input", v.input(k), schema::DType::FLOAT32));
  EMTL_RETURN_IF_ERROR(v.expect_dtype("output", v.output(), schema::DType::FLOAT32));
  Shape y;
  EMTL_RETURN_IF_ERROR(v.broadcast_inputs(0, 2, &y));
  return v.expect_shape(y);
}

Status prepare(PrepareContext& context, PreparedOp& p) {
  // XNNPACK may read past the end of an input: give constants padded copies.
  for (uint32_t k = 0; k < 2; ++k)
    if (context.tensor(p.input(k)).constant) EMTL_RETURN_IF_ERROR(context.pad_constant(p.input(k), XNN_EXTRA_BYTES));
  auto* kernel = p.state.emplace<BinaryElementwise>();
  if (!kernel) return Status::error(Error::kOutOfMemory, "cannot allocate a binary operator");
  const auto* options = p.op->options_as_BinaryOptions();
  return kernel->create(p.op->type(), options ? options->activation() : schema::Activation::NONE,
                        options ? options->alpha() : 0.01f);
}

Status run(const RunContext& context, PreparedOp& p) {
  return p.state.get<BinaryElementwise>().run(context.input(p, 0), context.input(p, 1), context.output(p));
}

constexpr OpPlanning kInPlace = {false, true, false, nullptr};

}  // namespace

extern const OpRegistration kAddOp = {schema::OpType::ADD, verify, prepare, run, nullptr, false, kInPlace};
extern const OpRegistration kSubOp = {schema::OpType::SUB, verify, prepare, run, nullptr, false, kInPlace};
extern const OpRegistration kMulOp = {schema::OpType::MUL, verify, prepare, run, nullptr, false, kInPlace};
extern const OpRegistration kDivOp = {schema::OpType::DIV, verify, prepare, run, nullptr, false, kInPlace};
extern const OpRegistration kMaximumOp = {schema::OpType::MAXIMUM, verify, prepare, run, nullptr, false, kInPlace};
extern const OpRegistration kMinimumOp = {schema::OpType::MINIMUM, verify, prepare, run, nullptr, false, kInPlace};

}  // namespace edgemtl
