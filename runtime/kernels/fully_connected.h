// FullyConnected: y[rows, N] = activation(x[rows, K] · Wᵀ + b) with XNNPACK.
#pragma once

#include <pthreadpool.h>

#include "runtime/kernels/xnn_operator.h"
#include "schema/edgemtl_generated.h"

namespace edgemtl {

/// Create once (XNNPACK packs W and b into its own layout, so the weights may
/// be released afterwards), then run any number of times with any row count.
class FullyConnected {
 public:
  /// `weight` is [output_channels, input_channels] row-major, `bias` may be null.
  /// x's rows are `input_stride` >= input_channels floats apart (wider rows:
  /// x is a window of columns of a wider tensor).
  /// RELU is fused into the GEMM; the other activations run after it.
  Status create(size_t input_channels, size_t input_stride, size_t output_channels, const float* weight,
                const float* bias, schema::Activation activation, float alpha);
  /// x: rows rows of input_stride floats, the last one possibly only
  /// input_channels long (XNNPACK may read XNN_EXTRA_BYTES past the end);
  /// y: rows * output_channels floats.
  Status run(const float* x, size_t rows, float* y, pthreadpool_t threadpool) const;
  /// Estimate of XNNPACK's packed copy: output_channels * (input_channels + 1)
  /// floats (it also pads output_channels up to its tile width, not counted).
  size_t packed_weight_bytes() const { return (output_channels_ * (input_channels_ + 1)) * sizeof(float); }

 private:
  XnnOperator op_;
  size_t input_channels_ = 0;
  size_t output_channels_ = 0;
  schema::Activation activation_ = schema::Activation::NONE;
  float alpha_ = 0.0f;
};

}  // namespace edgemtl
