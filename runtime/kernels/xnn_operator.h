// XnnOperator: owns one xnn_operator_t (deleted with it; movable, not copyable).
#pragma once

#include <xnnpack.h>

#include <utility>

#include "runtime/core/error.h"

namespace edgemtl {

class XnnOperator {
 public:
  XnnOperator() = default;
  XnnOperator(XnnOperator&& other) noexcept : op_(std::exchange(other.op_, nullptr)) {}
  XnnOperator& operator=(XnnOperator&& other) noexcept {
    reset();
    op_ = std::exchange(other.op_, nullptr);
    return *this;
  }
  XnnOperator(const XnnOperator&) = delete;
  XnnOperator& operator=(const XnnOperator&) = delete;
  ~XnnOperator() { reset(); }

  void reset() {
    if (op_) xnn_delete_operator(op_);
    op_ = nullptr;
  }
  xnn_operator_t get() const { return op_; }
  /// For xnn_create_*: the out-parameter; the previous operator is deleted.
  xnn_operator_t* out() {
    reset();
    return &op_;
  }

 private:
  xnn_operator_t op_ = nullptr;
};

/// Status for an XNNPACK failure in `what` (e.g. "xnn_setup_add_nd_f32").
inline Status xnn_status_to_error(xnn_status status, const char* what) {
  if (status == xnn_status_success) return Status::ok();
  if (status == xnn_status_out_of_memory) return Status::error(Error::kOutOfMemory, "%s: out of memory", what);
  return Status::error(Error::kInternal, "%s failed with XNNPACK status %d", what, static_cast<int>(status));
}

/// Initialises XNNPACK once per process (thread-safe); later calls return the first result.
Status ensure_xnnpack_initialized();

}  // namespace edgemtl
