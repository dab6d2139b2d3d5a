#include "runtime/kernels/quantized_fully_connected.h"

#include <algorithm>
#include <utility>

#include "runtime/kernels/activation.h"
#include "runtime/kernels/dynamic_quantization.h"

namespace edgemtl {

void QuantizedFullyConnected::set_layer(size_t input_channels, size_t input_stride, size_t output_channels,
                                        bool per_channel, schema::Activation activation, float alpha, size_t max_rows,
                                        bool dynamic) {
  input_channels_ = input_channels;
  input_stride_ = input_stride;
  output_channels_ = output_channels;
  max_rows_ = max_rows;
  per_channel_ = per_channel;
  activation_ = activation;
  alpha_ = alpha;
  vnni_ = false;
  dynamic_ = dynamic;
}

Status QuantizedFullyConnected::create(size_t input_channels, size_t input_stride, size_t output_channels,
                                       const int8_t* weight, const float* weight_scales, bool per_channel,
                                       const int32_t* bias, QuantParams input, QuantParams output,
                                       schema::Activation activation, float alpha, size_t max_rows,
                                       bool allow_vnni) {
  set_layer(input_channels, input_stride, output_channels, per_channel, activation, alpha, max_rows, false);
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

Status QuantizedFullyConnected::create_dynamic(size_t input_channels, size_t input_stride, size_t output_channels,
                                               const int8_t* weight, const float* weight_scales, bool per_channel,
                                               const float* bias, schema::Activation activation, float alpha,
                                               size_t max_rows, bool allow_vnni) {
  set_layer(input_channels, input_stride, output_channels, per_channel, activation, alpha, max_rows, true);
  quantize_.reset();
  gemm_.reset();
  dequantize_.reset();
  if (allow_vnni && Int8GemmVnni::available()) {
    EMTL_RETURN_IF_ERROR(vnni_gemm_.create_dynamic(input_channels, output_channels, weight, weight_scales, per_channel,
                                                   bias, max_rows));
    vnni_ = true;
    return Status::ok();
  }
  weight_.assign(weight, weight + output_channels * input_channels);
  weight_sums_.assign(output_channels, 0);
  weight_scales_.resize(output_channels);
  bias_.assign(output_channels, 0.0f);
  for (size_t c = 0; c < output_channels; ++c) {
    int32_t sum = 0;  // |sum| <= 128 K: no overflow for any K a file can hold in memory
    for (size_t k = 0; k < input_channels; ++k) sum += weight[c * input_channels + k];
    weight_sums_[c] = sum;
    weight_scales_[c] = weight_scales[per_channel ? c : 0];
    if (bias) bias_[c] = bias[c];
  }
  return Status::ok();
}

namespace {

struct DynamicRun {
  const float* x;
  float* y;
  uint8_t* xq;
};

}  // namespace

void QuantizedFullyConnected::dynamic_task(void* context, size_t begin, size_t count) {
  const auto* run = static_cast<const std::pair<const QuantizedFullyConnected*, DynamicRun>*>(context);
  const QuantizedFullyConnected& f = *run->first;
  const size_t K = f.input_channels_, N = f.output_channels_;
  DynamicRowQuantization q[kDynamicRowsPerTask];
  for (size_t r = 0; r < count; ++r) {
    const float* x = run->second.x + (begin + r) * f.input_stride_;
    uint8_t* xq = run->second.xq + (begin + r) * K;
    float low = 0.0f, high = 0.0f;
    for (size_t k = 0; k < K; ++k) {
      low = x[k] < low ? x[k] : low;  // NaN compares false: skipped
      high = x[k] > high ? x[k] : high;
    }
    q[r] = dynamic_row_quantization(low, high);
    const float zero_point = static_cast<float>(q[r].zero_point);
    for (size_t k = 0; k < K; ++k) {
      const float v = std::nearbyint(x[k] / q[r].scale) + zero_point;
      xq[k] = static_cast<uint8_t>(v >= 0.0f ? (v <= 255.0f ? v : 255.0f) : 0.0f);  // NaN: 0
    }
  }
  const uint8_t* xq = run->second.xq + begin * K;
  for (size_t c = 0; c < N; ++c) {
    const int8_t* w = f.weight_.data() + c * K;
    int32_t acc[kDynamicRowsPerTask] = {0, 0, 0, 0};
    for (size_t r = 0; r < count; ++r) {
      const uint8_t* a = xq + r * K;
      int32_t sum = 0;
      for (size_t k = 0; k < K; ++k) sum += static_cast<int32_t>(a[k]) * static_cast<int32_t>(w[k]);
      acc[r] = sum;
    }
    for (size_t r = 0; r < count; ++r) {
      const float value = static_cast<float>(acc[r] - q[r].zero_point * f.weight_sums_[c]);
      run->second.y[(begin + r) * N + c] = value * (q[r].scale * f.weight_scales_[c]) + f.bias_[c];
    }
  }
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

Status QuantizedFullyConnected::run(const float* x, size_t rows, float* y, int8_t* scratch, pthreadpool_t threadpool) {
  if (rows > max_rows_)
    return Status::error(Error::kInternal, "quantized fully connected: %zu rows, planned for %zu", rows, max_rows_);
  if (vnni_) {
    vnni_gemm_.run(x, rows, input_stride_, y, reinterpret_cast<uint8_t*>(scratch), threadpool);
  } else if (dynamic_) {
    std::pair<const QuantizedFullyConnected*, DynamicRun> context{this, {x, y, reinterpret_cast<uint8_t*>(scratch)}};
    if (threadpool)
      pthreadpool_parallelize_1d_tile_1d(threadpool, dynamic_task, &context, rows, kDynamicRowsPerTask, 0);
    else
      for (size_t row = 0; row < rows; row += kDynamicRowsPerTask)
        dynamic_task(&context, row, std::min(kDynamicRowsPerTask, rows - row));
  } else {
    EMTL_RETURN_IF_ERROR(run_xnnpack(x, rows, y, scratch, threadpool));
  }
  // Static int8 clamps RELU in the requantisation; dynamic int8 has an f32 result for every activation.
  if (activation_ != schema::Activation::NONE && (dynamic_ || activation_ != schema::Activation::RELU))
    apply_activation_f32(y, rows * output_channels_, activation_, alpha_);
  return Status::ok();
}

}  // namespace edgemtl
