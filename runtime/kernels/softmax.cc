#include "runtime/kernels/softmax.h"

#include <cmath>

#include "runtime/kernels/cpu_features.h"
#include "runtime/kernels/x86_exp.h"
#include "runtime/kernels/x86_intrinsics.h"

// GCC 12 warns inside its own AVX-512 intrinsics once they are inlined into
// softmax_exp16's lambda (their _mm512_undefined_ps self-initialisation, GCC
// bug 105593), which x86_intrinsics.h's push/pop around the include cannot reach.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace edgemtl {
namespace {

#if defined(__x86_64__)
#define EMTL_SOFTMAX_TARGET __attribute__((target("avx512f")))

// The maximum (or sum) of each group of `width` neighbouring lanes (a power of
// two <= 16) in every lane of the group: butterflies over lane index bits.
template <bool kSum>
EMTL_SOFTMAX_TARGET inline __m512 group_reduce(__m512 v, size_t width) {
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (int bit = 1; bit < static_cast<int>(width); bit <<= 1) {
    const __m512 other = _mm512_permutexvar_ps(_mm512_xor_si512(lane, _mm512_set1_epi32(bit)), v);
    v = kSum ? _mm512_add_ps(v, other) : _mm512_max_ps(v, other);
  }
  return v;
}

// Rows of `width` (2, 4, 8 or 16) floats, 16 / width rows per vector: the
// softmax of each row, its maximum subtracted first. A NaN in a row makes the
// row NaN: its exp is NaN, and so is the row's sum.
struct NarrowSoftmax16 {
  size_t width;
  EMTL_SOFTMAX_TARGET __m512 operator()(__m512 v) const {
    const __m512 e = exp16(_mm512_sub_ps(v, group_reduce<false>(v, width)));
    return _mm512_div_ps(e, group_reduce<true>(e, width));
  }
};

EMTL_SOFTMAX_TARGET void softmax_narrow(const float* x, float* y, size_t elements, size_t width) {
  map16(x, y, elements, NarrowSoftmax16{width});
}
#endif

}  // namespace

bool softmax_exp16(const float* x, float* y) {
#if defined(__x86_64__)
  if (!cpu_features().avx512f) return false;
  [](const float* in, float* out) EMTL_SOFTMAX_TARGET { _mm512_storeu_ps(out, exp16(_mm512_loadu_ps(in))); }(x, y);
  return true;
#else
  (void)x, (void)y;
  return false;
#endif
}

Status Softmax::create(const Shape& shape, int axis, bool allow_own) {
  axis_ = axis;
  own_ = false;
  if (axis != shape.rank - 1) return Status::ok();
#if defined(__x86_64__)
  const int64_t width = shape[axis];
  if (allow_own && cpu_features().avx512f && (width == 2 || width == 4 || width == 8 || width == 16)) {
    own_ = true;  // XNNPACK's three passes per row cost more than the row itself at these widths
    return Status::ok();
  }
#else
  (void)allow_own;
#endif
  EMTL_RETURN_IF_ERROR(ensure_xnnpack_initialized());
  const size_t channels = static_cast<size_t>(shape[axis]);
  return xnn_status_to_error(xnn_create_softmax_nc_f32(channels, channels, channels, 0, op_.out()),
                             "xnn_create_softmax_nc_f32");
}

Status Softmax::run(const TensorView& x, const TensorView& y) const {
  const int64_t axis_size = x.shape[axis_];
  if (x.num_elements() == 0 || axis_size == 0) return Status::ok();
#if defined(__x86_64__)
  if (own_) {
    softmax_narrow(x.as<const float>(), y.as<float>(), x.num_elements(), static_cast<size_t>(axis_size));
    return Status::ok();
  }
#endif
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
