// Softmax along one axis (>= 1): XNNPACK for the last axis, a loop otherwise.
// Sigmoid: XNNPACK.
#pragma once


#include "runtime/kernels/tensor_view.h"
#include "runtime/kernels/xnn_operator.h"

namespace edgemtl {

class Softmax {
 public:
  /// `shape` is the declared shape (rows may be -1); `axis` in [1, rank).
  Status create(const Shape& shape, int axis);
  Status run(const TensorView& x, const TensorView& y) const;

 private:
  XnnOperator op_;  // null unless axis is the last one
  int axis_ = 1;
};

/// y = 1 / (1 + exp(-x)) over a whole tensor, on XNNPACK.
class Sigmoid {
 public:
  Status create();
  Status run(const TensorView& x, const TensorView& y) const;

 private:
  XnnOperator op_;
};

}  // namespace edgemtl
