// UNARY (one FLOAT32 function chosen by UnaryOptions), IS_NAN, IS_INF, COMPARE
// and LOGICAL: elementwise, kernels in runtime/kernels/unary.h.
#include "runtime/kernels/unary.h"
#include "runtime/ops/registry.h"

namespace edgemtl {
namespace {

using schema::DType;

Status verify_unary(const OpVerifier& v) {
  EMTL_RETURN_IF_ERROR(v.arity(1, 1));
  const schema::UnaryOptions* options;
  EMTL_RETURN_IF_ERROR(v.get_options(schema::OpOptions::UnaryOptions, true, &options));
  const auto function = static_cast<int>(options->function());
  if (function < static_cast<int>(schema::UnaryFunction::MIN) || function > static_cast<int>(schema::UnaryFunction::MAX))
    return Status::error(Error::kUnsupported, "%s: unknown unary function %d", v.where(), function);
  EMTL_RETURN_IF_ERROR(v.expect_dtype("input", v.input(0), DType::FLOAT32));
  EMTL_RETURN_IF_ERROR(v.expect_dtype("output", v.output(), DType::FLOAT32));
  return v.expect_shape(v.input_shape(0));
}

Status prepare_unary(PrepareContext&, PreparedOp& p) {
  auto* kernel = p.state.emplace<Unary>();
  if (!kernel) return Status::error(Error::kOutOfMemory, "cannot allocate a unary operator");
  const auto* options = p.op->options_as_UnaryOptions();
  return kernel->create(options->function(), options->exponent());
}

Status run_unary(const RunContext& context, PreparedOp& p) {
  return p.state.get<Unary>().run(context.input(p, 0), context.output(p));
}

// IS_NAN, IS_INF: FLOAT32 in, BOOL of its shape out.
Status verify_float_test(const OpVerifier& v, bool is_inf) {
  EMTL_RETURN_IF_ERROR(v.arity(1, 1));
  if (is_inf) {
    const schema::IsInfOptions* options;
    EMTL_RETURN_IF_ERROR(v.get_options(schema::OpOptions::IsInfOptions, false, &options));
  } else {
    EMTL_RETURN_IF_ERROR(v.expect_no_options());
  }
  EMTL_RETURN_IF_ERROR(v.expect_dtype("input", v.input(0), DType::FLOAT32));
  EMTL_RETURN_IF_ERROR(v.expect_dtype("output", v.output(), DType::BOOL));
  return v.expect_shape(v.input_shape(0));
}

Status verify_is_nan(const OpVerifier& v) { return verify_float_test(v, false); }
Status verify_is_inf(const OpVerifier& v) { return verify_float_test(v, true); }

Status run_is_nan(const RunContext& context, PreparedOp& p) {
  is_nan(context.input(p, 0), context.output(p));
  return Status::ok();
}

Status run_is_inf(const RunContext& context, PreparedOp& p) {
  const auto* options = p.op->options_as_IsInfOptions();
  is_inf(context.input(p, 0), options ? options->detect_positive() : true, options ? options->detect_negative() : true,
         context.output(p));
  return Status::ok();
}

// COMPARE, LOGICAL: two inputs of one dtype, broadcast, BOOL out.
Status verify_binary_bool(const OpVerifier& v, bool logical) {
  EMTL_RETURN_IF_ERROR(v.arity(2, 2));
  if (logical) {
    const schema::LogicalOptions* options;
    EMTL_RETURN_IF_ERROR(v.get_options(schema::OpOptions::LogicalOptions, true, &options));
    if (options->function() > schema::LogicalFunction::MAX)
      return Status::error(Error::kUnsupported, "%s: unknown logical function %d", v.where(),
                           static_cast<int>(options->function()));
    EMTL_RETURN_IF_ERROR(v.expect_dtype("input 0", v.input(0), DType::BOOL));
  } else {
    const schema::CompareOptions* options;
    EMTL_RETURN_IF_ERROR(v.get_options(schema::OpOptions::CompareOptions, true, &options));
    if (options->predicate() > schema::ComparePredicate::MAX)
      return Status::error(Error::kUnsupported, "%s: unknown comparison %d", v.where(),
                           static_cast<int>(options->predicate()));
    if (v.dtype(v.input(0)) != DType::INT64)
      EMTL_RETURN_IF_ERROR(v.expect_dtype("input 0", v.input(0), DType::FLOAT32));
  }
  EMTL_RETURN_IF_ERROR(v.expect_dtype("input 1", v.input(1), v.dtype(v.input(0))));
  EMTL_RETURN_IF_ERROR(v.expect_dtype("output", v.output(), DType::BOOL));
  Shape y;
  EMTL_RETURN_IF_ERROR(v.broadcast_inputs(0, 2, &y));
  return v.expect_shape(y);
}

Status verify_compare(const OpVerifier& v) { return verify_binary_bool(v, false); }
Status verify_logical(const OpVerifier& v) { return verify_binary_bool(v, true); }

Status run_compare(const RunContext& context, PreparedOp& p) {
  compare(p.op->options_as_CompareOptions()->predicate(), context.input(p, 0), context.input(p, 1), context.output(p));
  return Status::ok();
}

Status run_logical(const RunContext& context, PreparedOp& p) {
  logical(p.op->options_as_LogicalOptions()->function(), context.input(p, 0), context.input(p, 1), context.output(p));
  return Status::ok();
}

}  // namespace

extern const OpRegistration kUnaryOp = {schema::OpType::UNARY, verify_unary, prepare_unary, run_unary, nullptr, false, {}};
extern const OpRegistration kIsNanOp = {schema::OpType::IS_NAN, verify_is_nan, nullptr, run_is_nan, nullptr, false, {}};
extern const OpRegistration kIsInfOp = {schema::OpType::IS_INF, verify_is_inf, nullptr, run_is_inf, nullptr, false, {}};
extern const OpRegistration kCompareOp = {
    schema::OpType::COMPARE, verify_compare, nullptr, run_compare, nullptr, false, {}};
extern const OpRegistration kLogicalOp = {
    schema::OpType::LOGICAL, verify_logical, nullptr, run_logical, nullptr, false, {}};

}  // namespace edgemtl
