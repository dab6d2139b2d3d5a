// F32Gemm: the FLOAT32 fully-connected layer y = x · Wᵀ + b (RELU fused) on
// the runtime's own x86-64 micro-kernels. Debian's XNNPACK (2022) runs its
// AVX-512 f32 GEMM as 7 rows x 16 columns: 7 accumulators cannot cover the
// FMA latency of two full-width units, so it stays near 2/3 of the FMA peak
// on Zen 5. Here:
//   AVX-512F: panels of 32 columns (2 zmm), micro-tiles of 8 rows: 16 zmm
//             accumulators, per k two panel loads and 8 broadcast FMAs x 2;
//   AVX2+FMA3: panels of 16 columns (2 ymm), micro-tiles of 6 rows: 12 ymm
//             accumulators (older x86, 16 registers).
//   Layers of at most 4 outputs (task heads, narrow gates) on AVX-512F: 16
//             rows at a time, x transposed in registers by blocks of 16 k, an
//             accumulator of 16 rows per output (a panel tile would compute
//             16 columns per row, most of them padding).
// The panels (k-major: per k the panel's columns, zero padded) are packed
// once at create, as Int8GemmVnni's (runtime/kernels/gemm_panels.h). Each
// output is bias + sum over k in order, one FMA per k, in every tile shape
// and on both ISAs: results do not depend on the row split or thread count
// (and AVX-512 and AVX2 give the same bits). Compiled with function target
// attributes and picked at run time; off x86-64 (and on CPUs without AVX2 and
// FMA3) no ISA is available and FullyConnected uses XNNPACK.
#pragma once


#include <cstddef>
#include <vector>

#include "runtime/core/error.h"
#include "runtime/threads/thread_pool.h"

namespace edgemtl {

enum class F32Isa { kNone, kAvx2, kAvx512 };

class F32Gemm {
 public:
  /// The widest ISA this CPU runs (kNone off x86-64; checked once).
  static F32Isa best_isa();
  /// True when this CPU runs `isa` (kNone: false).
  static bool supports(F32Isa isa);
  /// Columns of one weight panel of `isa` (32 AVX-512, 16 AVX2; the last
  /// panel of a layer may be half as wide; 0 for kNone).
  static size_t panel_columns(F32Isa isa);
  /// "avx512f", "avx2+fma" or "none".
  static const char* isa_name(F32Isa isa);

  /// `weight` [output_channels, input_channels] row-major, `bias` null or
  /// output_channels floats; `relu`: max(0, ·) fused in the epilogue.
  /// Fails with kUnsupported when the CPU does not run `isa`.
  Status create(size_t input_channels, size_t output_channels, const float* weight, const float* bias, bool relu,
                F32Isa isa);
  /// Rows [row_begin, row_end) single-threaded: row r of x at x + r * input_stride
  /// (only its first input_channels floats are read), of y at y + r * output_channels.
  void run_rows(const float* x, size_t input_stride, size_t row_begin, size_t row_end, float* y) const;
  /// All rows, split over the pool's threads in about one row range each.
  void run(const float* x, size_t rows, size_t input_stride, float* y, ThreadPool* pool) const;

  F32Isa isa() const { return isa_; }
  /// Rows of one micro-tile (parallel row ranges are multiples of it).
  size_t row_block() const;
  size_t packed_weight_bytes() const { return (packed_.size() + bias_.size()) * sizeof(float); }

 private:
  std::vector<float> packed_;  // panels of panel columns x input_channels, k-major
  std::vector<float> bias_;    // padded to the panels' columns with 0
  size_t input_channels_ = 0, output_channels_ = 0;
  bool relu_ = false;
  F32Isa isa_ = F32Isa::kNone;
};

}  // namespace edgemtl
