// FULLY_CONNECTED: y = activation(x · Wᵀ + b) with a FLOAT32, FLOAT16 or INT8
// weight. f32 and fp16 (widened once at prepare) run on FullyConnected (the
// own AVX-512 / AVX2 f32 kernel on x86-64, XNNPACK's f32 GEMM elsewhere);
// INT8 on QuantizedFullyConnected, which picks the AVX-512 VNNI kernel or
// XNNPACK at prepare (dynamic int8, input_mode DYNAMIC_ROW: VNNI or its
// portable loop). Input 0 may be a column view (rows `stride` apart).
// An optional 4th input, the addend, is added to x first (input_activation):
// the VNNI kernel adds it while quantising x, the others read a staged copy
// (runtime/kernels/input_addend.h).
#include <cmath>
#include <vector>

#include "runtime/kernels/fully_connected.h"
#include "runtime/kernels/half.h"
#include "runtime/kernels/input_addend.h"
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

// The 4th input: an activation [rows or 1, A] read from column addend_offset
// on, x 2-D, input_activation NONE, RELU or LEAKY_RELU (a finite input_alpha).
Status verify_addend(const OpVerifier& v, const schema::FullyConnectedOptions* options, int64_t input_channels) {
  if (v.num_inputs() < 4) {
    if (options && (options->input_activation() != schema::Activation::NONE || options->addend_offset() != 0))
      return Status::error(Error::kInvalidModel, "%s: input_activation or addend_offset without an addend input",
                           v.where());
    return Status::ok();
  }
  const int addend = v.input(3);
  EMTL_RETURN_IF_ERROR(v.expect_activation_input(3));
  EMTL_RETURN_IF_ERROR(v.expect_dtype("addend", addend, DType::FLOAT32));
  const Shape a = v.input_shape(3), x = v.input_shape(0);
  const int64_t offset = options ? options->addend_offset() : 0;
  if (x.rank != 2 || a.rank != 2 || offset < 0 || offset > a[1] || a[1] - offset < input_channels)
    return Status::error(Error::kInvalidModel, "%s: the addend (tensor %d) must be [-1, A] with addend_offset %lld + "
                         "K %lld <= A, and x 2-D", v.where(), addend, static_cast<long long>(offset),
                         static_cast<long long>(input_channels));
  const schema::Activation activation = options ? options->input_activation() : schema::Activation::NONE;
  if (activation != schema::Activation::NONE && activation != schema::Activation::RELU &&
      activation != schema::Activation::LEAKY_RELU)
    return Status::error(Error::kUnsupported, "%s: input_activation %d (only NONE, RELU and LEAKY_RELU)", v.where(),
                         static_cast<int>(activation));
  if (activation == schema::Activation::LEAKY_RELU && !std::isfinite(options->input_alpha()))
    return Status::error(Error::kInvalidModel, "%s: input_alpha %g is not finite", v.where(),
                         static_cast<double>(options->input_alpha()));
  return Status::ok();
}

Status verify(const OpVerifier& v) {
  EMTL_RETURN_IF_ERROR(v.arity(2, 4));
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
  EMTL_RETURN_IF_ERROR(verify_addend(v, options, w[1]));
  if (v.num_inputs() >= 3) {
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

// The 4th input, as prepared: where a run reads it.
struct AddendInput {
  bool present = false;
  schema::Activation activation = schema::Activation::NONE;
  float alpha = 0.0f;
  bool fused = false;          // the kernel adds it (else the run stages x + addend first)
  size_t offset = 0;           // addend_offset
  size_t stride = 0;           // floats between the addend's rows
  size_t input_stride = 0;     // floats between x's rows (x itself, before staging)
  size_t input_channels = 0;

  // The addend for this run: its row 0 for every row when it has 1 row.
  InputAddend at(const RunContext& context, const PreparedOp& p) const {
    const TensorView a = context.input(p, 3);
    return {a.as<const float>() + offset, a.shape[0] == 1 ? 0 : stride, activation, alpha};
  }
  // x, or x + addend staged in the lane's input scratch (rows input_channels apart).
  const float* input(const RunContext& context, const PreparedOp& p, size_t rows) const {
    const float* x = context.input(p, 0).as<const float>();
    if (!present || fused) return x;
    stage_input_addend(x, input_stride, rows, input_channels, at(context, p), context.input_scratch);
    return context.input_scratch;
  }
};

// A layer's state: its kernel (FullyConnected or QuantizedFullyConnected) and its addend.
template <class Kernel>
struct Layer {
  Kernel kernel;
  AddendInput addend;
};
using F32Layer = Layer<FullyConnected>;
using Int8Layer = Layer<QuantizedFullyConnected>;

// An addend of several rows has x's rows (the converter adds a 1-row one to many rows only).
Status check_addend_rows(const RunContext& context, const PreparedOp& p, const AddendInput& a, size_t rows) {
  if (!a.present) return Status::ok();
  const auto addend_rows = static_cast<size_t>(context.input(p, 3).shape[0]);
  if (addend_rows == 1 || addend_rows == rows) return Status::ok();
  return Status::error(Error::kInvalidModel, "fully connected: an addend of %zu rows for %zu rows of x", addend_rows,
                       rows);
}

Status run_f32(const RunContext& context, PreparedOp& p) {
  F32Layer& layer = p.state.get<F32Layer>();
  const size_t rows = gemm_rows(context.input(p, 0));
  EMTL_RETURN_IF_ERROR(check_addend_rows(context, p, layer.addend, rows));
  return layer.kernel.run(layer.addend.input(context, p, rows), rows, context.output(p).as<float>(), context.threads);
}

Status run_int8(const RunContext& context, PreparedOp& p) {
  Int8Layer& layer = p.state.get<Int8Layer>();
  const size_t rows = gemm_rows(context.input(p, 0));
  EMTL_RETURN_IF_ERROR(check_addend_rows(context, p, layer.addend, rows));
  const InputAddend fused = layer.addend.fused ? layer.addend.at(context, p) : InputAddend{};
  return layer.kernel.run(layer.addend.input(context, p, rows), rows, context.output(p).as<float>(),
                          context.int8_scratch, context.threads, fused);
}

// What prepare knows of the 4th input; `input_stride` is x's.
AddendInput prepare_addend(PrepareContext& context, const PreparedOp& p, size_t input_channels, size_t input_stride) {
  AddendInput a;
  if (p.num_inputs() < 4) return a;
  const schema::FullyConnectedOptions* options = p.op->options_as_FullyConnectedOptions();
  const TensorAllocation& addend = context.tensor(p.input(3));
  a.present = true;
  a.activation = options ? options->input_activation() : schema::Activation::NONE;
  a.alpha = options ? options->input_alpha() : 0.0f;
  a.offset = options ? static_cast<size_t>(options->addend_offset()) : 0;
  a.stride = addend.row_stride != 0 ? addend.row_stride : static_cast<size_t>(addend.declared[1]);
  a.input_stride = input_stride;
  a.input_channels = input_channels;
  return a;
}

// Staged addends need max_rows rows of input_channels floats in the lane's input scratch.
void reserve_staging(PrepareContext& context, const AddendInput& a) {
  if (!a.present || a.fused) return;
  const size_t bytes = context.max_rows * a.input_channels * sizeof(float);
  if (context.input_scratch_bytes < bytes) context.input_scratch_bytes = bytes;
}

// Static int8: one activation's scale and zero point (verified: one each, zero point in int8).
QuantParams activation_params(const schema::Quantization* q) {
  return {q->scale()->Get(0), static_cast<int8_t>(q->zero_point()->Get(0))};
}

// An INT8 weight: static or dynamic int8, scales read from the verified file.
Status prepare_int8(PrepareContext& context, PreparedOp& p, size_t view_stride) {
  const schema::FullyConnectedOptions* options = p.op->options_as_FullyConnectedOptions();
  const schema::Tensor* weight = context.file_tensor(p.input(1));
  const schema::Quantization* weight_q = weight->quantization();
  const size_t output_channels = static_cast<size_t>(weight->shape()->Get(0));
  const size_t input_channels = static_cast<size_t>(weight->shape()->Get(1));
  const size_t rows_per_row =
      static_cast<size_t>(context.tensor(p.input(0)).declared.elements_from(1)) / input_channels;
  const size_t max_rows = rows_per_row * context.max_rows;
  const void* bias = p.num_inputs() > 2 ? context.slots[p.input(2)].data : nullptr;
  auto* layer = p.state.emplace<Int8Layer>();
  if (!layer) return Status::error(Error::kOutOfMemory, "cannot allocate an int8 fully-connected layer");
  layer->addend = prepare_addend(context, p, input_channels, view_stride);
  layer->addend.fused = layer->addend.present &&
                        QuantizedFullyConnected::fuses_input_addend(is_dynamic(options), context.int8_vnni);
  reserve_staging(context, layer->addend);
  // A staged x is dense.
  const size_t input_stride = layer->addend.present && !layer->addend.fused ? input_channels : view_stride;
  QuantizedFullyConnected* kernel = &layer->kernel;
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
  const size_t view_stride = input_row_stride != 0 ? input_row_stride : input_channels;
  if (weight.dtype == DType::INT8) return prepare_int8(context, p, view_stride);

  const auto* options = p.op->options_as_FullyConnectedOptions();
  const uint8_t* weight_data = context.slots[p.input(1)].data;
  const float* bias = p.num_inputs() > 2 ? reinterpret_cast<const float*>(context.slots[p.input(2)].data) : nullptr;
  const size_t output_channels = static_cast<size_t>(weight.declared[0]);
  std::vector<float> widened;  // FLOAT16: XNNPACK packs its own f32 copy, this one goes after create
  if (weight.dtype == DType::FLOAT16) {
    widened.resize(output_channels * input_channels);
    half_to_float_n(weight_data, widened.data(), widened.size());
  }
  auto* layer = p.state.emplace<F32Layer>();
  if (!layer) return Status::error(Error::kOutOfMemory, "cannot allocate a fully-connected layer");
  layer->addend = prepare_addend(context, p, input_channels, view_stride);
  reserve_staging(context, layer->addend);
  const size_t input_stride = layer->addend.present ? input_channels : view_stride;  // staged: dense
  FullyConnected* kernel = &layer->kernel;
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
