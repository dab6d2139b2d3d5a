// LAYER_NORM: x [-1, ...] normalised over its dims from `axis` on, then scaled
// and shifted by constants (runtime/kernels/layer_norm.h).
#include "runtime/kernels/layer_norm.h"
#include "runtime/ops/registry.h"

namespace edgemtl {
namespace {

using schema::DType;

Status verify(const OpVerifier& v) {
  EMTL_RETURN_IF_ERROR(v.arity(2, 3));
  const schema::LayerNormOptions* options;
  EMTL_RETURN_IF_ERROR(v.get_options(schema::OpOptions::LayerNormOptions, true, &options));
  EMTL_RETURN_IF_ERROR(v.expect_activation_input(0));
  const Shape x = v.input_shape(0);
  EMTL_RETURN_IF_ERROR(v.check_axis(options->axis(), x.rank));
  if (!(options->epsilon() >= 0.0f))
    return Status::error(Error::kInvalidModel, "%s: epsilon %g < 0", v.where(), options->epsilon());
  const int64_t inner = x.elements_from(options->axis());
  const char* roles[3] = {"input", "scale", "bias"};
  for (uint32_t k = 0; k < v.num_inputs(); ++k) {
    EMTL_RETURN_IF_ERROR(v.expect_dtype(roles[k], v.input(k), DType::FLOAT32));
    if (k == 0) continue;
    EMTL_RETURN_IF_ERROR(v.expect_constant_input(k, roles[k]));
    if (v.input_shape(k).num_elements() != inner)
      return Status::error(Error::kInvalidModel, "%s: %s has %lld values, the normalised dims %lld", v.where(), roles[k],
                           static_cast<long long>(v.input_shape(k).num_elements()), static_cast<long long>(inner));
  }
  EMTL_RETURN_IF_ERROR(v.expect_dtype("output", v.output(), DType::FLOAT32));
  return v.expect_shape(x);
}

Status run(const RunContext& context, PreparedOp& p) {
  const auto* options = p.op->options_as_LayerNormOptions();
  const TensorView x = context.input(p, 0);
  const int64_t inner = x.shape.elements_from(options->axis());
  const int64_t outer = inner > 0 ? x.shape.num_elements() / inner : 0;
  const float* bias = p.num_inputs() > 2 ? context.input(p, 2).as<const float>() : nullptr;
  layer_norm_f32(x.as<const float>(), outer, inner, context.input(p, 1).as<const float>(), bias, options->epsilon(),
                 context.output(p).as<float>());
  return Status::ok();
}

uint64_t flops(const RunContext& context, const PreparedOp& p) {
  return 8 * static_cast<uint64_t>(context.input(p, 0).num_elements());
}

}  // namespace

extern const OpRegistration kLayerNormOp = {schema::OpType::LAYER_NORM, verify, nullptr, run, flops, false, {}};

}  // namespace edgemtl
