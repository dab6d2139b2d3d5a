// Int8GemmVnni: the INT8 fully-connected layer (schema/edgemtl.fbs) as one
// AVX-512 VNNI GEMM, for x86-64 CPUs that have it. XNNPACK's qc8/qs8 GEMMs
// (Debian's 2022 build) have no VNNI kernels; vpdpbusd does 4 u8 x s8
// multiply-adds per 32-bit lane in one instruction.
//   x (f32) -> xu = clamp(round(x / s_in) + z_in, -128, 127) + 128 (u8)
//   acc[c]  = sum_k xu[k] * w[c, k] + bias_total[c]
//             bias_total[c] = bq[c] - (128 + z_in) * sum_k w[c, k]
//   y       = s_out * clamp(round(acc * s_in * s_w[c] / s_out), lo - z_out, 127 - z_out)
// which is the schema's formula (the +128 makes x unsigned, as vpdpbusd
// wants; bias_total takes it back out). The requantisation runs in f32, as
// XNNPACK's does.
// Dynamic int8 (create_dynamic, FullyConnectedOptions.input_mode DYNAMIC_ROW):
// the same panels; each row r is quantised to u8 with its own scale s_r and
// zero point z_r (the schema's formula, which is already unsigned), and
//   y = float(acc - z_r * sum_k w[c, k]) * (s_r * s_w[c]) + bias_f32[c]
// with the weight sums computed once at create. Layers of at most 4 outputs
// (gates, task heads) run 16 rows at a time, xu transposed in registers, an
// accumulator of 16 rows per output: the same sums and epilogue, the same
// bits. Compiled with function target attributes (no global -m
// flags); off x86-64 available() is false and create() fails.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "runtime/core/error.h"
#include "runtime/kernels/dynamic_quantization.h"
#include "runtime/kernels/input_addend.h"
#include "runtime/threads/thread_pool.h"

namespace edgemtl {

class Int8GemmVnni {
 public:
  /// Columns per packed weight panel (two zmm of int32 accumulators) and
  /// rows per micro-kernel tile.
  static constexpr size_t kPanelColumns = 32;
  static constexpr size_t kRowBlock = 8;

  /// True when this CPU runs AVX-512 F/BW/VL/VNNI (checked once).
  static bool available();

  /// `weight` int8 [output_channels, input_channels], `weight_scales`
  /// output_channels scales when `per_channel`, else one; `bias` int32 or
  /// null. `lowest`: the lowest int8 output (z_out for RELU, else -128).
  Status create(size_t input_channels, size_t output_channels, const int8_t* weight, const float* weight_scales,
                bool per_channel, const int32_t* bias, float input_scale, int8_t input_zero_point, float output_scale,
                int8_t output_zero_point, int8_t lowest, size_t max_rows);
  /// Dynamic int8: no input or output scales; `bias` f32 or null. The
  /// activation is applied by the caller.
  Status create_dynamic(size_t input_channels, size_t output_channels, const int8_t* weight,
                        const float* weight_scales, bool per_channel, const float* bias, size_t max_rows);
  /// y[rows, output_channels] (dense) from x rows `input_stride` floats
  /// apart; reads only the first input_channels floats of each row.
  /// `scratch`: scratch_bytes() bytes for the u8 copy of x. `pool`: null
  /// (this thread only) or the Session's threads, given a few row ranges
  /// (runtime/kernels/gemm_panels.h). `addend` (static int8 only): the layer
  /// reads activation(x + addend), added while x is quantised.
  void run(const float* x, size_t rows, size_t input_stride, float* y, uint8_t* scratch, ThreadPool* pool,
           const InputAddend& addend = {}) const;
  /// Rows [row_begin, row_end) of the same, single-threaded (row r of x, y and
  /// the scratch where run() puts it): for a caller's own thread pool.
  void run_rows(const float* x, size_t input_stride, size_t row_begin, size_t row_end, float* y, uint8_t* scratch,
                const InputAddend& addend = {}) const;

  struct RunContext;  // the arguments of one run (int8_gemm_vnni.cc)
  /// (dynamic: then each row's scale and zero point)
  size_t scratch_bytes() const {
    return max_rows_ * padded_input_channels_ + (dynamic_ ? max_rows_ * (sizeof(float) + sizeof(int32_t)) : 0);
  }
  /// Packed weights, per-column bias and requantisation multiplier (dynamic: weight sums, f32 bias, s_w).
  size_t packed_weight_bytes() const {
    return packed_.size() + bias_.size() * sizeof(int32_t) + multiplier_.size() * sizeof(float) +
           float_bias_.size() * sizeof(float);
  }

 private:
  std::vector<int8_t> packed_;     // panels of kPanelColumns (the last one may be 16) x padded_input_channels_
  Status pack(size_t input_channels, size_t output_channels, const int8_t* weight, size_t max_rows);
  RunContext context(const float* x, size_t rows, size_t input_stride, float* y, uint8_t* scratch,
                     const InputAddend& addend) const;

  std::vector<int32_t> bias_;      // bias_total (dynamic: sum_k w[c, k]), padded to the panels' columns with 0
  std::vector<float> multiplier_;  // s_in * s_w[c] / s_out (dynamic: s_w[c]), padded with 0
  std::vector<float> float_bias_;  // dynamic only: the f32 bias, padded with 0
  bool dynamic_ = false;
  size_t input_channels_ = 0, padded_input_channels_ = 0, output_channels_ = 0, max_rows_ = 0;
  float input_scale_ = 1.0f, output_scale_ = 1.0f;
  int input_zero_point_ = 0, output_zero_point_ = 0, lowest_ = -128;
};

}  // namespace edgemtl
