// QuantizedFullyConnected: the INT8 form of FULLY_CONNECTED (schema/edgemtl.fbs):
// f32 x -> int8 (static scale) -> int8 GEMM with int32 accumulation ->
// int8 y -> f32, all three steps with XNNPACK. Per-channel weight scales run
// as a 1x1 convolution over the rows (qc8), a per-tensor scale as the qs8
// fully-connected operator.
#pragma once

#include <pthreadpool.h>

#include <cstdint>

#include "runtime/kernels/xnn_operator.h"
#include "schema/edgemtl_generated.h"

namespace edgemtl {

/// real = scale * (q - zero_point)
struct QuantParams {
  float scale = 1.0f;
  int8_t zero_point = 0;
};

class QuantizedFullyConnected {
 public:
  /// `weight` int8 [output_channels, input_channels]; `weight_scales` holds
  /// output_channels scales when `per_channel`, else one. `bias` (int32, may be
  /// null) has scale input.scale * weight_scale[c]. Rows per run are at most
  /// `max_rows`; x's rows are `input_stride` >= input_channels floats apart.
  Status create(size_t input_channels, size_t input_stride, size_t output_channels, const int8_t* weight,
                const float* weight_scales, bool per_channel, const int32_t* bias, QuantParams input,
                QuantParams output, schema::Activation activation, float alpha, size_t max_rows);
  /// `scratch`: scratch_bytes() bytes for the int8 copies of x and y; the
  /// layers of a Session run one after another and share one scratch.
  Status run(const float* x, size_t rows, float* y, int8_t* scratch, pthreadpool_t threadpool);
  size_t scratch_bytes() const { return max_rows_ * (input_channels_ + output_channels_) + 2 * XNN_EXTRA_BYTES; }
  /// XNNPACK's packed int8 weights, int32 biases and per-channel scales.
  size_t packed_weight_bytes() const {
    return output_channels_ * (input_channels_ + sizeof(int32_t) + (per_channel_ ? sizeof(float) : 0));
  }

 private:
  XnnOperator quantize_, gemm_, dequantize_;
  size_t input_channels_ = 0, output_channels_ = 0, max_rows_ = 0;
  bool per_channel_ = false;
  schema::Activation activation_ = schema::Activation::NONE;
  float alpha_ = 0.0f;
};

/// Creates `kernel` for a verified FULLY_CONNECTED operator whose weight is
/// INT8: reads the scales and zero points from the file. `input_stride`: as
/// in QuantizedFullyConnected::create.
Status create_quantized_fully_connected(const schema::Operator* op, const schema::Tensor* weight,
                                        const void* weight_data, const void* bias_data, size_t max_rows,
                                        size_t input_stride, QuantizedFullyConnected* kernel);

}  // namespace edgemtl
