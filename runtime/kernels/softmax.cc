#include "runtime/kernels/softmax.h"

#include <cmath>

namespace edgemtl {

Status Softmax::create(const Shape& shape, int axis) {
  axis_ = axis;
  if (axis != shape.rank - 1) return Status::ok();
  EMTL_RETURN_IF_ERROR(ensure_xnnpack_initialized());
  const size_t channels = static_cast<size_t>(shape[axis]);
  return xnn_status_to_error(xnn_create_softmax_nc_f32(channels, channels, channels, 0, op_.out()),
                             "xnn_create_softmax_nc_f32");
}

Status Softmax::run(const TensorView& x, const TensorView& y) const {
  const int64_t axis_size = x.shape[axis_];
  if (x.num_elements() == 0 || axis_size == 0) return Status::ok();
  if (op_.get()) {
    const size_t batch = x.num_elements() / static_cast<size_t>(axis_size);
    EMTL_RETURN_IF_ERROR(xnn_status_to_error(
        xnn_setup_softmax_nc_f32(op_.get(), batch, x.as<const float>(), y.as<float>(), nullptr),
        "xnn_setup_softmax_nc_f32"));
    return xnn_status_to_error(xnn_run_operator(op_.get(), nullptr), "softmax");
  }
  // Inner axis: for each (outer, inner) pair, the values along the axis are
  // `inner` apart. Subtracting the maximum keeps exp() finite.
  const int64_t inner = x.shape.elements_from(axis_ + 1);
  const int64_t outer = x.shape.num_elements() / (axis_size * inner);
  const float* in = x.as<const float>();
  float* out = y.as<float>();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t base = o * axis_size * inner + i;
      float max_value = in[base];
      for (int64_t a = 1; a < axis_size; ++a) max_value = std::fmax(max_value, in[base + a * inner]);
      float sum = 0.0f;
      for (int64_t a = 0; a < axis_size; ++a) {
        const float e = std::exp(in[base + a * inner] - max_value);
        out[base + a * inner] = e;
        sum += e;
      }
      for (int64_t a = 0; a < axis_size; ++a) out[base + a * inner] /= sum;
    }
  }
  return Status::ok();
}

Status Sigmoid::create() {
  EMTL_RETURN_IF_ERROR(ensure_xnnpack_initialized());
  // One channel, a batch of every element: the shape does not matter.
  return xnn_status_to_error(xnn_create_sigmoid_nc_f32(1, 1, 1, 0, op_.out()), "xnn_create_sigmoid_nc_f32");
}

Status Sigmoid::run(const TensorView& x, const TensorView& y) const {
  EMTL_RETURN_IF_ERROR(xnn_status_to_error(
      xnn_setup_sigmoid_nc_f32(op_.get(), x.num_elements(), x.as<const float>(), y.as<float>(), nullptr),
      "xnn_setup_sigmoid_nc_f32"));
  return xnn_status_to_error(xnn_run_operator(op_.get(), nullptr), "sigmoid");
}

}  // namespace edgemtl
