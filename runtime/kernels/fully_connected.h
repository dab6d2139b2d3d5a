// FullyConnected: y[rows, N] = activation(x[rows, K] · Wᵀ + b), on the
// runtime's own f32 micro-kernels (F32Gemm: AVX-512 or AVX2+FMA3, picked from
// the CPU) or on XNNPACK (ARM, older x86, or when asked).
#pragma once


#include "runtime/kernels/f32_gemm.h"
#include "runtime/kernels/xnn_operator.h"
#include "schema/edgemtl_generated.h"

namespace edgemtl {

/// Create once (W and b are packed into the kernel's own layout, so the
/// weights may be released afterwards), then run any number of times with any
/// row count.
class FullyConnected {
 public:
  /// `weight` is [output_channels, input_channels] row-major, `bias` may be null.
  /// x's rows are `input_stride` >= input_channels floats apart (wider rows:
  /// x is a window of columns of a wider tensor).
  /// RELU is fused into the GEMM; the other activations run after it.
  /// `own`: the ISA of the runtime's kernel to use (F32Isa::kNone: XNNPACK);
  /// one the CPU does not run falls back to XNNPACK.
  Status create(size_t input_channels, size_t input_stride, size_t output_channels, const float* weight,
                const float* bias, schema::Activation activation, float alpha, F32Isa own = F32Gemm::best_isa());
  /// x: rows rows of input_stride floats, the last one possibly only
  /// input_channels long (XNNPACK may read XNN_EXTRA_BYTES past the end);
  /// y: rows * output_channels floats. With a pool, the own kernel runs about
  /// one range of rows per thread (same bits for any thread count).
  /// `threads`: the own kernel splits over threads.pool, XNNPACK takes
  /// threads.xnnpack_for(the GEMM's multiply-adds).
  Status run(const float* x, size_t rows, float* y, const KernelThreads& threads) const;
  /// The own kernel's panels, or an estimate of XNNPACK's packed copy:
  /// output_channels * (input_channels + 1) floats (it also pads
  /// output_channels up to its tile width, not counted).
  size_t packed_weight_bytes() const {
    return own_.isa() != F32Isa::kNone ? own_.packed_weight_bytes()
                                       : (output_channels_ * (input_channels_ + 1)) * sizeof(float);
  }
  /// True when run() only reads this object (the own kernel), so that several
  /// threads may run it at once; XNNPACK's operator is set up on every run.
  bool reentrant() const { return own_.isa() != F32Isa::kNone; }
  /// The ISA of the own kernel in use, F32Isa::kNone on XNNPACK.
  F32Isa isa() const { return own_.isa(); }

 private:
  XnnOperator op_;
  F32Gemm own_;
  size_t input_stride_ = 0;
  size_t input_channels_ = 0;
  size_t output_channels_ = 0;
  schema::Activation activation_ = schema::Activation::NONE;
  float alpha_ = 0.0f;
};

}  // namespace edgemtl
