// RELU, SIGMOID (XNNPACK), TANH, LEAKY_RELU, CLIP and PRELU: FLOAT32, output
// shaped as the input.
#include "runtime/kernels/activation.h"
#include "runtime/kernels/elementwise.h"
#include "runtime/kernels/softmax.h"
#include "runtime/ops/registry.h"

namespace edgemtl {
namespace {

using schema::DType;

// The checks after the options: one FLOAT32 input, output of its shape.
Status verify_unary_f32(const OpVerifier& v) {
  EMTL_RETURN_IF_ERROR(v.expect_dtype("input", v.input(0), DType::FLOAT32));
  EMTL_RETURN_IF_ERROR(v.expect_dtype("output", v.output(), DType::FLOAT32));
  return v.expect_shape(v.input_shape(0));
}

Status verify_without_options(const OpVerifier& v) {
  EMTL_RETURN_IF_ERROR(v.arity(1, 1));
  EMTL_RETURN_IF_ERROR(v.expect_no_options());
  return verify_unary_f32(v);
}

Status verify_leaky_relu(const OpVerifier& v) {
  EMTL_RETURN_IF_ERROR(v.arity(1, 1));
  const schema::ActivationOptions* options;
  EMTL_RETURN_IF_ERROR(v.get_options(schema::OpOptions::ActivationOptions, false, &options));
  return verify_unary_f32(v);
}

Status verify_clip(const OpVerifier& v) {
  EMTL_RETURN_IF_ERROR(v.arity(1, 1));
  const schema::ClipOptions* options;
  EMTL_RETURN_IF_ERROR(v.get_options(schema::OpOptions::ClipOptions, false, &options));
  if (options && !(options->min() <= options->max()))
    return Status::error(Error::kInvalidModel, "%s: clip min %g > max %g", v.where(), options->min(), options->max());
  return verify_unary_f32(v);
}

Status run_relu(const RunContext& context, PreparedOp& p) {
  const TensorView out = context.output(p);
  relu_f32(context.input(p, 0).as<const float>(), out.as<float>(), out.num_elements());
  return Status::ok();
}

Status prepare_sigmoid(PrepareContext&, PreparedOp& p) {
  auto* kernel = p.state.emplace<Sigmoid>();
  if (!kernel) return Status::error(Error::kOutOfMemory, "cannot allocate a sigmoid");
  return kernel->create();
}

Status run_sigmoid(const RunContext& context, PreparedOp& p) {
  return p.state.get<Sigmoid>().run(context.input(p, 0), context.output(p));
}

Status run_tanh(const RunContext& context, PreparedOp& p) {
  const TensorView out = context.output(p);
  tanh_f32(context.input(p, 0).as<const float>(), out.as<float>(), out.num_elements());
  return Status::ok();
}

Status run_leaky_relu(const RunContext& context, PreparedOp& p) {
  const TensorView out = context.output(p);
  const auto* options = p.op->options_as_ActivationOptions();
  leaky_relu_f32(context.input(p, 0).as<const float>(), out.as<float>(), out.num_elements(),
                 options ? options->alpha() : 0.01f);
  return Status::ok();
}

Status run_clip(const RunContext& context, PreparedOp& p) {
  const TensorView out = context.output(p);
  const auto* options = p.op->options_as_ClipOptions();
  clip_f32(context.input(p, 0).as<const float>(), out.as<float>(), out.num_elements(),
           options ? options->min() : -3.4e38f, options ? options->max() : 3.4e38f);
  return Status::ok();
}

Status verify_prelu(const OpVerifier& v) {
  EMTL_RETURN_IF_ERROR(v.arity(2, 2));
  EMTL_RETURN_IF_ERROR(v.expect_no_options());
  EMTL_RETURN_IF_ERROR(v.expect_activation_input(0));
  EMTL_RETURN_IF_ERROR(v.expect_constant_input(1, "slope"));
  for (uint32_t k = 0; k < 2; ++k) EMTL_RETURN_IF_ERROR(v.expect_dtype("input", v.input(k), DType::FLOAT32));
  EMTL_RETURN_IF_ERROR(v.expect_dtype("output", v.output(), DType::FLOAT32));
  Shape y;
  EMTL_RETURN_IF_ERROR(v.broadcast_inputs(0, 2, &y));
  if (y != v.input_shape(0))
    return Status::error(Error::kInvalidModel, "%s: slope must broadcast to the input's shape", v.where());
  return v.expect_shape(y);
}

Status run_prelu(const RunContext& context, PreparedOp& p) {
  prelu(context.input(p, 0), context.input(p, 1), context.output(p));
  return Status::ok();
}

}  // namespace

extern const OpRegistration kReluOp = {
    schema::OpType::RELU, verify_without_options, nullptr, run_relu, nullptr, false, {}};
extern const OpRegistration kSigmoidOp = {
    schema::OpType::SIGMOID, verify_without_options, prepare_sigmoid, run_sigmoid, nullptr, false, {}};
extern const OpRegistration kTanhOp = {
    schema::OpType::TANH, verify_without_options, nullptr, run_tanh, nullptr, false, {}};
extern const OpRegistration kLeakyReluOp = {
    schema::OpType::LEAKY_RELU, verify_leaky_relu, nullptr, run_leaky_relu, nullptr, false, {}};
extern const OpRegistration kClipOp = {schema::OpType::CLIP, verify_clip, nullptr, run_clip, nullptr, false, {}};
extern const OpRegistration kPreluOp = {schema::OpType::PRELU, verify_prelu, nullptr, run_prelu, nullptr, false, {}};

}  // namespace edgemtl
