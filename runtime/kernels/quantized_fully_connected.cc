#include "runtime/kernels/quantized_fully_connected.h"

#include "runtime/kernels/activation.h"

namespace edgemtl {

Status QuantizedFullyConnected::create(size_t input_channels, size_t input_stride, size_t output_channels,
                                       const int8_t* weight, const float* weight_scales, bool per_channel,
                                       const int32_t* bias, QuantParams input, QuantParams output,
                                       schema::Activation activation, float alpha, size_t max_rows,
                                       bool allow_vnni) {
  input_channels_ = input_channels;
  input_stride_ = input_stride;
  output_channels_ = output_channels;
  max_rows_ = max_rows;
  per_channel_ = per_channel;
  activation_ = activation;
  alpha_ = alpha;
  vnni_ = false;
  // RELU is the clamp at the quantised zero; other activations run on the f32 result.
  const int8_t lowest = activation == schema::Activation::RELU ? output.zero_point : INT8_MIN;
  // XNNPACK's range of requantisation scales: above it create fails, below it XNNPACK asserts (aborts).
  // Checked on the VNNI path too, so that whether a file runs does not depend on the CPU.
  for (size_t c = 0; c < (per_channel ? output_channels : 1); ++c) {
    const float requantisation = input.scale * weight_scales[c] / output.scale;
    if (!(requantisation >= 0x1.0p-32f && requantisation < 256.0f))
      return Status::error(Error::kUnsupported, "int8 fully connected: XNNPACK does not take these scales (input %g, "
                           "output %g, weight %g; the requantisation scale is out of its range)",
                           static_cast<double>(input.scale), static_cast<double>(output.scale),
                           static_cast<double>(weight_scales[c]));
  }
  if (allow_vnni && Int8GemmVnni::available()) {
    EMTL_RETURN_IF_ERROR(vnni_gemm_.create(input_channels, output_channels, weight, weight_scales, per_channel, bias,
                                           input.scale, input.zero_point, output.scale, output.zero_point, lowest,
                                           max_rows));
    quantize_.reset();
    gemm_.reset();
    dequantize_.reset();
    vnni_ = true;
    return Status::ok();
  }
  EMTL_RETURN_IF_ERROR(ensure_xnnpack_initialized());
  EMTL_RETURN_IF_ERROR(xnn_status_to_error(
      xnn_create_convert_nc_f32_qs8(input_channels, input_stride, input_channels, input.scale, input.zero_point,
                                    INT8_MIN, INT8_MAX, 0, quantize_.out()),
      "xnn_create_convert_nc_f32_qs8"));
  const xnn_status status =
      per_channel
          ? xnn_create_convolution2d_nhwc_qc8(0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, input_channels, output_channels,
                                              input_channels, output_channels, input.zero_point, input.scale,
                                              weight_scales, weight, bias, output.zero_point, output.scale, lowest,
                                              INT8_MAX, 0, gemm_.out())
          : xnn_create_fully_connected_nc_qs8(input_channels, output_channels, input_channels, output_channels,
                                              input.zero_point, input.scale, weight_scales[0], weight, bias,
                                              output.zero_point, output.scale, lowest, INT8_MAX, 0, gemm_.out());
  EMTL_RETURN_IF_ERROR(xnn_status_to_error(status, per_channel ? "xnn_create_convolution2d_nhwc_qc8"
                                                               : "xnn_create_fully_connected_nc_qs8"));
  EMTL_RETURN_IF_ERROR(xnn_status_to_error(
      xnn_create_convert_nc_qs8_f32(output_channels, output_channels, output_channels, output.scale,
                                    output.zero_point, 0, dequantize_.out()),
      "xnn_create_convert_nc_qs8_f32"));
  return Status::ok();
}

Status QuantizedFullyConnected::run_xnnpack(const float* x, size_t rows, float* y, int8_t* scratch,
                                            pthreadpool_t threadpool) {
  // XNNPACK may read XNN_EXTRA_BYTES past the end of its inputs.
  int8_t* x_int8 = scratch;
  int8_t* y_int8 = scratch + max_rows_ * input_channels_ + XNN_EXTRA_BYTES;
  EMTL_RETURN_IF_ERROR(xnn_status_to_error(
      xnn_setup_convert_nc_f32_qs8(quantize_.get(), rows, x, x_int8, threadpool),
      "xnn_setup_convert_nc_f32_qs8"));
  EMTL_RETURN_IF_ERROR(xnn_status_to_error(xnn_run_operator(quantize_.get(), threadpool), "quantize"));
  const xnn_status setup =
      per_channel_ ? xnn_setup_convolution2d_nhwc_qc8(gemm_.get(), rows, 1, 1, x_int8, y_int8,
                                                      threadpool)
                   : xnn_setup_fully_connected_nc_qs8(gemm_.get(), rows, x_int8, y_int8, threadpool);
  EMTL_RETURN_IF_ERROR(xnn_status_to_error(setup, "setup of the int8 GEMM"));
  EMTL_RETURN_IF_ERROR(xnn_status_to_error(xnn_run_operator(gemm_.get(), threadpool), "int8 GEMM"));
  EMTL_RETURN_IF_ERROR(xnn_status_to_error(
      xnn_setup_convert_nc_qs8_f32(dequantize_.get(), rows, y_int8, y, threadpool),
      "xnn_setup_convert_nc_qs8_f32"));
  EMTL_RETURN_IF_ERROR(xnn_status_to_error(xnn_run_operator(dequantize_.get(), threadpool), "dequantize"));
  return Status::ok();
}

Status QuantizedFullyConnected::run(const float* x, size_t rows, float* y, int8_t* scratch,
                                    const KernelThreads& threads) {
  if (rows > max_rows_)
    return Status::error(Error::kInternal, "quantized fully connected: %zu rows, planned for %zu", rows, max_rows_);
  if (vnni_)
    vnni_gemm_.run(x, rows, input_stride_, y, reinterpret_cast<uint8_t*>(scratch), threads.pool);
  else
    EMTL_RETURN_IF_ERROR(
        run_xnnpack(x, rows, y, scratch, threads.xnnpack_for(rows * input_channels_ * output_channels_)));
  if (activation_ != schema::Activation::RELU && activation_ != schema::Activation::NONE)
    apply_activation_f32(y, rows * output_channels_, activation_, alpha_);
  return Status::ok();
}

}  // namespace edgemtl
