#include "runtime/kernels/quantized_fully_connected.h"

#include <algorithm>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#endif

#include "runtime/kernels/activation.h"
#include "runtime/kernels/dynamic_quantization.h"
#include "runtime/kernels/gemm_panels.h"

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
  padded_input_channels_ = (input_channels + 7) / 8 * 8;
  weight_.assign(output_channels * padded_input_channels_, 0);
  for (size_t c = 0; c < output_channels; ++c)
    for (size_t k = 0; k < input_channels; ++k) weight_[c * padded_input_channels_ + k] = weight[c * input_channels + k];
  weight_scales_.resize(output_channels);
  bias_.assign(output_channels, 0.0f);
  for (size_t c = 0; c < output_channels; ++c) {
    weight_scales_[c] = weight_scales[per_channel ? c : 0];
    if (bias) bias_[c] = bias[c];
  }
  return Status::ok();
}

namespace {

struct DynamicRun {
  const float* x;
  float* y;
  int16_t* xq;  // xq - z per row, padded_input_channels_ apart (zeros after K)
};

// acc[m][j] = sum_k x[m][k] * w[j][k] (int32) for M rows x 2 columns, k in groups of 8
// (int16 x int16 products, exact: |255 * 127| < 2^15). SSE2 pmaddwd / NEON smlal, else scalar.
template <int M>
void dot_block(const int16_t* x, size_t x_stride, const int16_t* w0, const int16_t* w1, size_t k8,
               int32_t acc[][2]) {
#if defined(__SSE2__)
  __m128i sum[M][2];
  for (int m = 0; m < M; ++m) sum[m][0] = sum[m][1] = _mm_setzero_si128();
  for (size_t k = 0; k < k8; k += 8) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w0 + k));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w1 + k));
    for (int m = 0; m < M; ++m) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + m * x_stride + k));
      sum[m][0] = _mm_add_epi32(sum[m][0], _mm_madd_epi16(v, a));
      sum[m][1] = _mm_add_epi32(sum[m][1], _mm_madd_epi16(v, b));
    }
  }
  for (int m = 0; m < M; ++m)
    for (int j = 0; j < 2; ++j) {
      alignas(16) int32_t lanes[4];
      _mm_store_si128(reinterpret_cast<__m128i*>(lanes), sum[m][j]);
      acc[m][j] = static_cast<int32_t>(static_cast<uint32_t>(lanes[0]) + static_cast<uint32_t>(lanes[1]) +
                                       static_cast<uint32_t>(lanes[2]) + static_cast<uint32_t>(lanes[3]));
    }
#elif defined(__ARM_NEON)
  int32x4_t sum[M][2];
  for (int m = 0; m < M; ++m) sum[m][0] = sum[m][1] = vdupq_n_s32(0);
  for (size_t k = 0; k < k8; k += 8) {
    const int16x8_t a = vld1q_s16(w0 + k), b = vld1q_s16(w1 + k);
    for (int m = 0; m < M; ++m) {
      const int16x8_t v = vld1q_s16(x + m * x_stride + k);
      sum[m][0] = vmlal_s16(sum[m][0], vget_low_s16(v), vget_low_s16(a));
      sum[m][0] = vmlal_high_s16(sum[m][0], v, a);
      sum[m][1] = vmlal_s16(sum[m][1], vget_low_s16(v), vget_low_s16(b));
      sum[m][1] = vmlal_high_s16(sum[m][1], v, b);
    }
  }
  for (int m = 0; m < M; ++m)
    for (int j = 0; j < 2; ++j) acc[m][j] = vaddvq_s32(sum[m][j]);
#else
  for (int m = 0; m < M; ++m)
    for (int j = 0; j < 2; ++j) {
      const int16_t* w = j == 0 ? w0 : w1;
      int32_t s = 0;
      for (size_t k = 0; k < k8; ++k) s += static_cast<int32_t>(x[m * x_stride + k]) * w[k];
      acc[m][j] = s;
    }
#endif
}

}  // namespace

void QuantizedFullyConnected::dynamic_rows(const void* run, size_t begin, size_t end) {
  for (size_t row = begin; row < end; row += kDynamicRowsPerTask)
    dynamic_task(run, row, std::min(kDynamicRowsPerTask, end - row));
}

void QuantizedFullyConnected::dynamic_task(const void* context, size_t begin, size_t count) {
  const auto* run = static_cast<const std::pair<const QuantizedFullyConnected*, DynamicRun>*>(context);
  const QuantizedFullyConnected& f = *run->first;
  const size_t K = f.input_channels_, K8 = f.padded_input_channels_, N = f.output_channels_;
  DynamicRowQuantization q[kDynamicRowsPerTask];
  for (size_t r = 0; r < count; ++r) {
    const float* x = run->second.x + (begin + r) * f.input_stride_;
    int16_t* xq = run->second.xq + (begin + r) * K8;
    float low = 0.0f, high = 0.0f;
    for (size_t k = 0; k < K; ++k) {
      low = x[k] < low ? x[k] : low;  // NaN compares false: skipped
      high = x[k] > high ? x[k] : high;
    }
    q[r] = dynamic_row_quantization(low, high);
    // xq - z = clamp(round(x / s), -z, 255 - z); |x / s| <= 255 for the row's finite values.
    const float low_q = static_cast<float>(-q[r].zero_point), high_q = static_cast<float>(255 - q[r].zero_point);
    for (size_t k = 0; k < K; ++k) {
      float v = x[k] / q[r].scale;
      v = v >= low_q ? (v <= high_q ? v : high_q) : low_q;  // NaN: low_q, as the VNNI path
      v = (v + 0x1.8p23f) - 0x1.8p23f;  // round half to even (|v| < 2^22), no libm call: vectorises
      xq[k] = static_cast<int16_t>(v);
    }
    for (size_t k = K; k < K8; ++k) xq[k] = 0;
  }
  const int16_t* xq = run->second.xq + begin * K8;
  int32_t acc[kDynamicRowsPerTask][2];
  for (size_t c = 0; c < N; c += 2) {
    const int16_t* w0 = f.weight_.data() + c * K8;
    const int16_t* w1 = c + 1 < N ? w0 + K8 : w0;  // an odd last column: computed twice, stored once
    switch (count) {
      case 4: dot_block<4>(xq, K8, w0, w1, K8, acc); break;
      case 3: dot_block<3>(xq, K8, w0, w1, K8, acc); break;
      case 2: dot_block<2>(xq, K8, w0, w1, K8, acc); break;
      default: dot_block<1>(xq, K8, w0, w1, K8, acc); break;
    }
    for (size_t j = 0; j < 2 && c + j < N; ++j)
      for (size_t r = 0; r < count; ++r)
        run->second.y[(begin + r) * N + c + j] =
            static_cast<float>(acc[r][j]) * (q[r].scale * f.weight_scales_[c + j]) + f.bias_[c + j];
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

Status QuantizedFullyConnected::run(const float* x, size_t rows, float* y, int8_t* scratch,
                                    const KernelThreads& threads, const InputAddend& addend) {
  if (rows > max_rows_)
    return Status::error(Error::kInternal, "quantized fully connected: %zu rows, planned for %zu", rows, max_rows_);
  if (addend.present() && !(vnni_ && !dynamic_))
    return Status::error(Error::kInternal, "quantized fully connected: an input addend on a kernel that stages it");
  if (vnni_) {
    vnni_gemm_.run(x, rows, input_stride_, y, reinterpret_cast<uint8_t*>(scratch), threads.pool, addend);
  } else if (dynamic_) {
    std::pair<const QuantizedFullyConnected*, DynamicRun> context{this, {x, y, reinterpret_cast<int16_t*>(scratch)}};
    parallelize_row_ranges(threads.pool, rows, kDynamicRowsPerTask,
                           kDynamicRowsPerTask * input_channels_ * output_channels_, output_channels_, dynamic_rows,
                           &context);
  } else {
    EMTL_RETURN_IF_ERROR(
        run_xnnpack(x, rows, y, scratch, threads.xnnpack_for(rows * input_channels_ * output_channels_)));
  }
  // Static int8 clamps RELU in the requantisation; dynamic int8 has an f32 result for every activation.
  if (activation_ != schema::Activation::NONE && (dynamic_ || activation_ != schema::Activation::RELU))
    apply_activation_f32(y, rows * output_channels_, activation_, alpha_);
  return Status::ok();
}

}  // namespace edgemtl
