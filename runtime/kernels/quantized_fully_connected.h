// QuantizedFullyConnected: the INT8 form of FULLY_CONNECTED (schema/edgemtl.fbs):
// f32 x -> int8 (static scale) -> int8 GEMM with int32 accumulation ->
// int8 y -> f32. On x86-64 CPUs with AVX-512 VNNI, one kernel of our own does
// all of it (Int8GemmVnni, about 2x XNNPACK's GEMM there); elsewhere the three
// steps run with XNNPACK: per-channel weight scales as a 1x1 convolution over
// the rows (qc8), a per-tensor scale as the qs8 fully-connected operator.
#pragma once


#include <cstdint>

#include "runtime/kernels/int8_gemm_vnni.h"
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
  /// `allow_vnni` false: XNNPACK even on a CPU with AVX-512 VNNI (to compare).
  Status create(size_t input_channels, size_t input_stride, size_t output_channels, const int8_t* weight,
                const float* weight_scales, bool per_channel, const int32_t* bias, QuantParams input,
                QuantParams output, schema::Activation activation, float alpha, size_t max_rows,
                bool allow_vnni = true);
  /// `scratch`: scratch_bytes() bytes for the int8 copies of x and y; the
  /// layers of a Session run one after another and share one scratch.
  /// `threads`: the Session's pools (XNNPACK's GEMM or the VNNI kernel's).
  Status run(const float* x, size_t rows, float* y, int8_t* scratch, const KernelThreads& threads);
  size_t scratch_bytes() const {
    return vnni_ ? vnni_gemm_.scratch_bytes()
                 : max_rows_ * (input_channels_ + output_channels_) + 2 * XNN_EXTRA_BYTES;
  }
  /// The packed int8 weights, int32 biases and scales (XNNPACK's or the VNNI kernel's).
  size_t packed_weight_bytes() const {
    return vnni_ ? vnni_gemm_.packed_weight_bytes()
                 : output_channels_ * (input_channels_ + sizeof(int32_t) + (per_channel_ ? sizeof(float) : 0));
  }
  /// True when run() uses the AVX-512 VNNI kernel.
  bool uses_vnni() const { return vnni_; }

 private:
  Status run_xnnpack(const float* x, size_t rows, float* y, int8_t* scratch, pthreadpool_t threadpool);

  XnnOperator quantize_, gemm_, dequantize_;  // unused on the VNNI path
  Int8GemmVnni vnni_gemm_;
  size_t input_channels_ = 0, input_stride_ = 0, output_channels_ = 0, max_rows_ = 0;
  bool per_channel_ = false, vnni_ = false;
  schema::Activation activation_ = schema::Activation::NONE;
  float alpha_ = 0.0f;
};

}  // namespace edgemtl
