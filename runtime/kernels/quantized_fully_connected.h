// QuantizedFullyConnected: the INT8 form of FULLY_CONNECTED (schema/edgemtl.fbs):
// f32 x -> int8 (static scale) -> int8 GEMM with int32 accumulation ->
// int8 y -> f32. On x86-64 CPUs with AVX-512 VNNI, one kernel of our own does
// all of it (Int8GemmVnni, about 2x XNNPACK's GEMM there); elsewhere the three
// steps run with XNNPACK: per-channel weight scales as a 1x1 convolution over
// the rows (qc8), a per-tensor scale as the qs8 fully-connected operator.
// Dynamic int8 (create_dynamic: each row quantised with its own range, f32
// bias and output): the VNNI kernel, elsewhere a portable loop of our own
// (XNNPACK 2022 has no dynamically quantised fully-connected operator).
#pragma once


#include <cstdint>
#include <vector>

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
  /// Dynamic int8 (FullyConnectedOptions.input_mode DYNAMIC_ROW): as create,
  /// with an f32 `bias` (may be null) and no activation scales.
  Status create_dynamic(size_t input_channels, size_t input_stride, size_t output_channels, const int8_t* weight,
                        const float* weight_scales, bool per_channel, const float* bias,
                        schema::Activation activation, float alpha, size_t max_rows, bool allow_vnni = true);
  /// `scratch`: scratch_bytes() bytes for the int8 copies of x and y; the
  /// layers of a Session run one after another and share one scratch.
  /// `threads`: the Session's pools (XNNPACK's GEMM or the VNNI kernel's).
  /// `addend`: only where fuses_input_addend() (x is then read through it).
  Status run(const float* x, size_t rows, float* y, int8_t* scratch, const KernelThreads& threads,
             const InputAddend& addend = {});
  /// True when a layer created with these arguments adds FULLY_CONNECTED's
  /// addend itself (static int8 on the VNNI kernel); the others are given x
  /// with the addend added (stage_input_addend), rows input_channels apart.
  static bool fuses_input_addend(bool dynamic, bool allow_vnni) {
    return !dynamic && allow_vnni && Int8GemmVnni::available();
  }
  size_t scratch_bytes() const {
    if (vnni_) return vnni_gemm_.scratch_bytes();
    if (dynamic_) return max_rows_ * padded_input_channels_ * sizeof(int16_t);  // the rows' xq - z
    return max_rows_ * (input_channels_ + output_channels_) + 2 * XNN_EXTRA_BYTES;
  }
  /// The packed int8 weights, int32 biases and scales (XNNPACK's or the VNNI kernel's).
  size_t packed_weight_bytes() const {
    if (vnni_) return vnni_gemm_.packed_weight_bytes();
    if (dynamic_) return weight_.size() * sizeof(int16_t) + (2 * output_channels_) * sizeof(float);
    return output_channels_ * (input_channels_ + sizeof(int32_t) + (per_channel_ ? sizeof(float) : 0));
  }
  /// True when run() uses the AVX-512 VNNI kernel.
  bool uses_vnni() const { return vnni_; }
  /// True when run() only reads this object (the VNNI kernel or the dynamic
  /// portable loop, their scratch passed in), so that several threads may run
  /// it at once; XNNPACK's operators are set up on every run.
  bool reentrant() const { return vnni_ || dynamic_; }
  bool is_dynamic() const { return dynamic_; }

  /// Rows per task of the portable dynamic kernel.
  static constexpr size_t kDynamicRowsPerTask = 4;

 private:
  void set_layer(size_t input_channels, size_t input_stride, size_t output_channels, bool per_channel,
                 schema::Activation activation, float alpha, size_t max_rows, bool dynamic);
  Status run_xnnpack(const float* x, size_t rows, float* y, int8_t* scratch, pthreadpool_t threadpool);
  // The portable dynamic kernel on rows [begin, begin + count) of a DynamicRun.
  static void dynamic_task(const void* run, size_t begin, size_t count);
  /// Rows [begin, end) of `run`, in dynamic_task blocks (a RowRangeFn, gemm_panels.h).
  static void dynamic_rows(const void* run, size_t begin, size_t end);

  XnnOperator quantize_, gemm_, dequantize_;  // unused on the VNNI path
  Int8GemmVnni vnni_gemm_;
  size_t input_channels_ = 0, input_stride_ = 0, output_channels_ = 0, max_rows_ = 0;
  bool per_channel_ = false, vnni_ = false, dynamic_ = false;
  // The portable dynamic path: the weight [N, K] widened to int16 (xq - z and w are int16 and so is
  // their product, |255 * 127| < 2^15: the compiler's int16 dot product, pmaddwd / smlal), s_w[c]
  // (one per c) and the f32 bias.
  std::vector<int16_t> weight_;  // rows of padded_input_channels_ (a multiple of 8, zeros after K)
  size_t padded_input_channels_ = 0;
  std::vector<float> weight_scales_, bias_;
  schema::Activation activation_ = schema::Activation::NONE;
  float alpha_ = 0.0f;
};

}  // namespace edgemtl
