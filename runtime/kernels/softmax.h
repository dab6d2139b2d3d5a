// Softmax along one axis (>= 1): XNNPACK for the last axis, a loop otherwise.
// Sigmoid: XNNPACK.
#pragma once


#include "runtime/kernels/tensor_view.h"
#include "runtime/kernels/xnn_operator.h"

namespace edgemtl {

class Softmax {
 public:
  /// `shape` is the declared shape (rows may be -1); `axis` in [1, rank).
  /// `allow_own`: the runtime's AVX-512 kernel for a last axis of 2, 4, 8 or
  /// 16 (the gates of MMoE/PLE) where the CPU has it; false: XNNPACK (tests).
  Status create(const Shape& shape, int axis, bool allow_own = true);
  Status run(const TensorView& x, const TensorView& y) const;
  /// True when run() uses the AVX-512 kernel for narrow rows.
  bool uses_own_kernel() const { return own_; }

 private:
  XnnOperator op_;  // null unless axis is the last one (and not own_)
  int axis_ = 1;
  bool own_ = false;
};

/// exp(x) for 16 floats at a time as the narrow softmax computes it (AVX-512F;
/// x <= 0 there, but any x in [-104, 88] is within 2 ulp), for tests; false
/// off x86-64 or without AVX-512F.
bool softmax_exp16(const float* x, float* y);

/// y = 1 / (1 + exp(-x)) over a whole tensor, on XNNPACK.
class Sigmoid {
 public:
  Status create();
  Status run(const TensorView& x, const TensorView& y) const;

 private:
  XnnOperator op_;
};

}  // namespace edgemtl
