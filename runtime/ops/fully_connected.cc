// FULLY_CONNECTED: y = activation(x · Wᵀ + b) with a FLOAT32, FLOAT16 or INT8
// weight. f32 and fp16 (widened once at prepare) run on FullyConnected (the
// own AVX-512 / AVX2 f32 kernel on x86-64, XNNPACK's f32 GEMM elsewhere);
// INT8 on QuantizedFullyConnected, which picks the AVX-512 VNNI kernel or
// XNNPACK at prepare (dynamic int8, input_mode DYNAMIC_ROW: VNNI or its
// portable loop). Input 0 may be a column view (rows `stride` apart).
#include <vector>

#include "runtime/kernels/fully_connected.h"
#include "runtime/kernels/half.h"
#include "runtime/kernels/quantized_fully_connected.h"
#include "runtime/ops/registry.h"

namespace edgemtl {
namespace {

using schema::DType;

bool is_dynamic(const schema::FullyConnectedOptions* options) {
  return options && options->input_mode() == schema::InputQuantizationMode::DYNAMIC_ROW;
}

Status verify_weight_quantization(const OpVerifier& v, const schema::FullyConnectedOptions* options,
                                  int64_t output_channels) {
  const int weight = v.input(1);
  const bool int8 = v.dtype(weight) == DType::INT8;
  const bool has_activation_quantization =
      options && (options->input_quantization() || options->output_quantization());
  if (options && options->input_mode() != schema::InputQuantizationMode::STATIC && !is_dynamic(options))
    return Status::error(Error::kUnsupported, "%s: unknown input_mode %d (a newer file format?)", v.where(),
                         static_cast<int>(options->input_mode()));
  if (!int8) {
    if (v.tensor(weight)->quantization() || has_activation_quantization || is_dynamic(options))
      return Status::error(Error::kInvalidModel, "%s: quantisation parameters on a %s weight", v.where(),
                           dtype_name(v.dtype(weight)));
    return Status::ok();
  }
  const schema::Quantization* q = v.tensor(weight)->quantization();
  const bool per_channel = q && q->axis() == 0;
  EMTL_RETURN_IF_ERROR(v.check_symmetric("weight", weight, per_channel ? 0 : -1, per_channel ? output_channels : 1));
  if (!options) return Status::error(Error::kInvalidModel, "%s: INT8 weight without FullyConnectedOptions", v.where());
  if (is_dynamic(options)) {
    if (has_activation_quantization)
      return Status::error(Error::kInvalidModel,
                           "%s: input_mode DYNAMIC_ROW takes no input_quantization or output_quantization", v.where());
    return Status::ok();
  }
  EMTL_RETURN_IF_ERROR(v.check_activation_quantization("input_quantization", options->input_quantization()));
  return v.check_activation_quantization("output_quantization", options->output_quantization());
}

Status verify(const OpVerifier& v) {
  EMTL_RETURN_IF_ERROR(v.arity(2, 3));
  const schema::FullyConnectedOptions* options;
  EMTL_RETURN_IF_ERROR(v.get_options(schema::OpOptions::FullyConnectedOptions, false, &options));
  if (options) EMTL_RETURN_IF_ERROR(v.check_activation(options->activation()));
  EMTL_RETURN_IF_ERROR(v.expect_activation_input(0));
  EMTL_RETURN_IF_ERROR(v.expect_constant_input(1, "weight"));
  EMTL_RETURN_IF_ERROR(v.expect_dtype("input", v.input(0), DType::FLOAT32));
  const DType weight_dtype = v.dtype(v.input(1));
  if (weight_dtype != DType::FLOAT16 && weight_dtype != DType::INT8)
    EMTL_RETURN_IF_ERROR(v.expect_dtype("weight", v.input(1), DType::FLOAT32));
  EMTL_RETURN_IF_ERROR(v.expect_dtype("output", v.output(), DType::FLOAT32));
  const Shape x = v.input_shape(0), w = v.input_shape(1);
  if (x.rank < 2 || w.rank != 2 || w[1] != x[x.rank - 1] || w[0] < 1 || w[1] < 1)
    return Status::error(Error::kInvalidModel, "%s: input [..., K] and weight [N, K] do not match", v.where());
  EMTL_RETURN_IF_ERROR(verify_weight_quantization(v, options, w[0]));
  if (v.num_inputs() == 3) {
    EMTL_RETURN_IF_ERROR(v.expect_constant_input(2, "bias"));
    // Static int8: INT32 bias with an implied scale; dynamic int8 adds an f32 bias.
    const bool int32_bias = weight_dtype == DType::INT8 && !is_dynamic(options);
    EMTL_RETURN_IF_ERROR(v.expect_dtype("bias", v.input(2), int32_bias ? DType::INT32 : DType::FLOAT32));
    if (v.tensor(v.input(2))->quantization())
      return Status::error(Error::kInvalidModel, "%s: the %s bias has %s, not a Quantization", v.where(),
                           int32_bias ? "INT32" : "FLOAT32", int32_bias ? "an implied scale" : "no scale");
    const Shape b = v.input_shape(2);
    if (b.rank != 1 || b[0] != w[0])
      return Status::error(Error::kInvalidModel, "%s: bias must have shape [%lld]", v.where(),
                           static_cast<long long>(w[0]));
  }
  Shape y = x;
  y[y.rank - 1] = w[0];
  return v.expect_shape(y);
}

// Rows of the GEMM: every leading dimension of x folded into rows.
size_t gemm_rows(const TensorView& x) {
  return x.num_elements() / static_cast<size_t>(x.shape[x.shape.rank - 1]);
}

Status run_f32(const RunContext& context, PreparedOp& p) {
  const TensorView x = context.input(p, 0);
  return p.state.get<FullyConnected>().run(x.as<const float>(), gemm_rows(x), context.output(p).as<float>(),
                                           context.threads);
}

Status run_int8(const RunContext& context, PreparedOp& p) {
  const TensorView x = context.input(p, 0);
  return p.state.get<QuantizedFullyConnected>().run(x.as<const float>(), gemm_rows(x), context.output(p).as<float>(),
                                                    context.int8_scratch, context.threads);
}

// Static int8: one activation's scale and zero point (verified: one each, zero point in int8).
QuantParams activation_params(const schema::Quantization* q) {
  return {q->scale()->Get(0), static_cast<int8_t>(q->zero_point()->Get(0))};
}

// An INT8 weight: static or dynamic int8, scales read from the verified file.
Status prepare_int8(PrepareContext& context, PreparedOp& p, size_t input_stride) {
  const schema::FullyConnectedOptions* options = p.op->options_as_FullyConnectedOptions();
  const schema::Tensor* weight = context.file_tensor(p.input(1));
  const schema::Quantization* weight_q = weight->quantization();
  const size_t output_channels = static_cast<size_t>(weight->shape()->Get(0));
  const size_t input_channels = static_cast<size_t>(weight->shape()->Get(1));
  const size_t rows_per_row =
      static_cast<size_t>(context.tensor(p.input(0)).declared.elements_from(1)) / input_channels;
  const size_t max_rows = rows_per_row * context.max_rows;
  const void* bias = p.num_inputs() > 2 ? context.slots[p.input(2)].data : nullptr;
  auto* kernel = p.state.emplace<QuantizedFullyConnected>();
  if (!kernel) return Status::error(Error::kOutOfMemory, "cannot allocate an int8 fully-connected layer");
  const auto* weight_data = reinterpret_cast<const int8_t*>(context.slots[p.input(1)].data);
  if (is_dynamic(options)) {
    EMTL_RETURN_IF_ERROR(kernel->create_dynamic(input_channels, input_stride, output_channels, weight_data,
                                                weight_q->scale()->data(), weight_q->axis() == 0,
                                                reinterpret_cast<const float*>(bias), options->activation(),
                                                options->alpha(), max_rows, context.int8_vnni));
  } else {
    EMTL_RETURN_IF_ERROR(kernel->create(input_channels, input_stride, output_channels, weight_data,
                                        weight_q->scale()->data(), weight_q->axis() == 0,
                                        reinterpret_cast<const int32_t*>(bias),
                                        activation_params(options->input_quantization()),
                                        activation_params(options->output_quantization()), options->activation(),
                                        options->alpha(), max_rows, context.int8_vnni));
  }
  context.packed_weight_bytes += kernel->packed_weight_bytes();
  if (context.int8_scratch_bytes < kernel->scratch_bytes()) context.int8_scratch_bytes = kernel->scratch_bytes();
  p.run = run_int8;
  p.reentrant = kernel->reentrant();
  return Status::ok();
}

Status prepare(PrepareContext& context, PreparedOp& p) {
  const TensorAllocation& weight = context.tensor(p.input(1));
  const size_t input_channels = static_cast<size_t>(weight.declared[1]);
  const size_t input_row_stride = context.tensor(p.input(0)).row_stride;
  const size_t input_stride = input_row_stride != 0 ? input_row_stride : input_channels;
  if (weight.dtype == DType::INT8) return prepare_int8(context, p, input_stride);

  const auto* options = p.op->options_as_FullyConnectedOptions();
  const uint8_t* weight_data = context.slots[p.input(1)].data;
  const float* bias = p.num_inputs() > 2 ? reinterpret_cast<const float*>(context.slots[p.input(2)].data) : nullptr;
  const size_t output_channels = static_cast<size_t>(weight.declared[0]);
  std::vector<float> widened;  // FLOAT16: XNNPACK packs its own f32 copy, this one goes after create
  if (weight.dtype == DType::FLOAT16) {
    widened.resize(output_channels * input_channels);
    half_to_float_n(weight_data, widened.data(), widened.size());
  }
  auto* kernel = p.state.emplace<FullyConnected>();
  if (!kernel) return Status::error(Error::kOutOfMemory, "cannot allocate a fully-connected layer");
  EMTL_RETURN_IF_ERROR(kernel->create(
      input_channels, input_stride, output_channels,
      widened.empty() ? reinterpret_cast<const float*>(weight_data) : widened.data(), bias,
      options ? options->activation() : schema::Activation::NONE, options ? options->alpha() : 0.01f,
      context.f32_isa));
  context.packed_weight_bytes += kernel->packed_weight_bytes();
  p.run = run_f32;
  p.reentrant = kernel->reentrant();
  return Status::ok();
}

// 2 * output elements * K.
uint64_t flops(const RunContext& context, const PreparedOp& p) {
  const auto output_elements = static_cast<uint64_t>(context.slots[p.output].shape.num_elements());
  return 2 * output_elements * static_cast<uint64_t>(context.tensors[p.input(1)].declared[1]);
}

}  // namespace

extern const OpRegistration kFullyConnectedOp = {
    schema::OpType::FULLY_CONNECTED, verify, prepare, run_f32, flops, false, {false, false, true, nullptr}};

}  // namespace edgemtl
