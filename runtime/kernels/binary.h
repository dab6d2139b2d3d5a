// Binary elementwise float operators (ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM)
// with numpy broadcasting up to 6 dims, on XNNPACK's *_nd_f32 operators.
#pragma once


#include "runtime/kernels/tensor_view.h"
#include "runtime/kernels/xnn_operator.h"

namespace edgemtl {

class BinaryElementwise {
 public:
  /// `type` is one of ADD..MINIMUM. RELU is fused where XNNPACK allows it
  /// (ADD, SUB, MUL, DIV); other activations run after the operator.
  Status create(schema::OpType type, schema::Activation activation, float alpha);
  /// `out.shape` must be the broadcast of a.shape and b.shape. The inputs may
  /// be read up to XNN_EXTRA_BYTES past their end.
  Status run(const TensorView& a, const TensorView& b, const TensorView& out) const;

 private:
  XnnOperator op_;
  schema::OpType type_ = schema::OpType::ADD;
  schema::Activation post_activation_ = schema::Activation::NONE;
  float alpha_ = 0.0f;
};

}  // namespace edgemtl
