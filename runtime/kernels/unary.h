// UNARY (elementwise math on FLOAT32), IS_NAN / IS_INF, COMPARE and LOGICAL.
// XNNPACK where it has the function (abs, negate, floor, ceiling, square
// root), plain loops otherwise. In place allowed (x == y) for the float ones.
#pragma once

#include <pthreadpool.h>

#include <cstddef>

#include "runtime/kernels/tensor_view.h"
#include "runtime/kernels/xnn_operator.h"
#include "schema/edgemtl_generated.h"

namespace edgemtl {

/// y[i] = f(x[i]) for every function of schema::UnaryFunction, as plain loops
/// (`exponent` for POW). The reference the XNNPACK path is tested against.
void unary_f32(schema::UnaryFunction function, float exponent, const float* x, float* y, size_t count);

/// One UNARY function: an XNNPACK operator when XNNPACK has it, else unary_f32.
class Unary {
 public:
  Status create(schema::UnaryFunction function, float exponent);
  Status run(const TensorView& x, const TensorView& y) const;
  bool uses_xnnpack() const { return op_.get() != nullptr; }

 private:
  schema::UnaryFunction function_ = schema::UnaryFunction::LOG;
  float exponent_ = 1.0f;
  xnn_status (*setup_)(xnn_operator_t, size_t, const float*, float*, pthreadpool_t) = nullptr;
  XnnOperator op_;
};

/// out (BOOL) = isnan(x); out (BOOL) = x is +inf and `positive`, or -inf and `negative`.
void is_nan(const TensorView& x, const TensorView& out);
void is_inf(const TensorView& x, bool positive, bool negative, const TensorView& out);
/// out (BOOL) = a <predicate> b with broadcasting; a, b FLOAT32 or INT64 of one dtype.
void compare(schema::ComparePredicate predicate, const TensorView& a, const TensorView& b, const TensorView& out);
/// out (BOOL) = a <function> b with broadcasting; a, b BOOL.
void logical(schema::LogicalFunction function, const TensorView& a, const TensorView& b, const TensorView& out);

}  // namespace edgemtl
