#include "runtime/kernels/xnn_operator.h"

namespace edgemtl {

Status ensure_xnnpack_initialized() {
  // A function-local static is initialised exactly once, thread-safely.
  static const xnn_status status = xnn_initialize(nullptr);
  return xnn_status_to_error(status, "xnn_initialize");
}

}  // namespace edgemtl
