#include "runtime/kernels/elementwise.h"

#include <cmath>
#include <cstring>

#include "runtime/kernels/activation.h"

namespace edgemtl {
namespace {

template <typename T>
void equal_typed(const TensorView& a, const TensorView& b, const TensorView& out) {
  const T* x = a.as<const T>();
  const T* y = b.as<const T>();
  uint8_t* z = out.as<uint8_t>();
  const Shape* inputs[2] = {&a.shape, &b.shape};
  for_each_broadcast<2>(out.shape, inputs, [&](int64_t i, const int64_t* offsets) {
    z[i] = x[offsets[0]] == y[offsets[1]] ? 1 : 0;
  });
}

int64_t float_to_int64(float value) {
  if (std::isnan(value)) return 0;
  if (value >= 9.2233720368547758e18f) return INT64_MAX;
  if (value <= -9.2233720368547758e18f) return INT64_MIN;
  return static_cast<int64_t>(value);
}

}  // namespace

void equal(const TensorView& a, const TensorView& b, const TensorView& out) {
  switch (a.dtype) {
    case schema::DType::FLOAT32: equal_typed<float>(a, b, out); break;
    case schema::DType::INT64: equal_typed<int64_t>(a, b, out); break;
    default: equal_typed<uint8_t>(a, b, out); break;
  }
}

void logical_not(const TensorView& x, const TensorView& out) {
  const uint8_t* in = x.as<const uint8_t>();
  uint8_t* result = out.as<uint8_t>();
  for (size_t i = 0, n = x.num_elements(); i < n; ++i) result[i] = in[i] ? 0 : 1;
}

void where(const TensorView& condition, const TensorView& a, const TensorView& b, const TensorView& out) {
  const uint8_t* c = condition.as<const uint8_t>();
  const uint8_t* x = a.as<const uint8_t>();
  const uint8_t* y = b.as<const uint8_t>();
  uint8_t* z = out.as<uint8_t>();
  const size_t size = out.element_size();
  const Shape* inputs[3] = {&condition.shape, &a.shape, &b.shape};
  for_each_broadcast<3>(out.shape, inputs, [&](int64_t i, const int64_t* offsets) {
    const uint8_t* source = c[offsets[0]] ? x + offsets[1] * static_cast<int64_t>(size)
                                          : y + offsets[2] * static_cast<int64_t>(size);
    std::memcpy(z + i * static_cast<int64_t>(size), source, size);
  });
}

void cast(const TensorView& x, const TensorView& out) {
  const size_t n = x.num_elements();
  using schema::DType;
  if (x.dtype == out.dtype) {
    std::memcpy(out.data, x.data, x.byte_size());
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    switch (x.dtype) {
      case DType::FLOAT32: {
        const float v = x.as<const float>()[i];
        if (out.dtype == DType::INT64) out.as<int64_t>()[i] = float_to_int64(v);
        else out.as<uint8_t>()[i] = v != 0.0f ? 1 : 0;  // NaN != 0: true, as numpy
        break;
      }
      case DType::INT64: {
        const int64_t v = x.as<const int64_t>()[i];
        if (out.dtype == DType::FLOAT32) out.as<float>()[i] = static_cast<float>(v);
        else out.as<uint8_t>()[i] = v != 0 ? 1 : 0;
        break;
      }
      default: {  // BOOL
        const uint8_t v = x.as<const uint8_t>()[i] ? 1 : 0;
        if (out.dtype == DType::FLOAT32) out.as<float>()[i] = v;
        else out.as<int64_t>()[i] = v;
        break;
      }
    }
  }
}

namespace {

// A slope of one value, or of one per last-axis column (1 elsewhere), over an
// x of the output's shape: the vectorised loops of activation.cc.
bool prelu_by_columns(const TensorView& x, const TensorView& slope, const TensorView& out) {
  if (x.shape != out.shape || out.shape.rank < 1) return false;
  const int64_t elements = out.shape.num_elements(), columns = out.shape[out.shape.rank - 1];
  const int64_t slopes = slope.shape.num_elements();
  if (slopes == 1) {
    leaky_relu_f32(x.as<const float>(), out.as<float>(), static_cast<size_t>(elements), slope.as<const float>()[0]);
    return true;
  }
  if (columns < 1 || slope.shape.rank < 1 || slope.shape[slope.shape.rank - 1] != columns || slopes != columns)
    return false;
  prelu_rows_f32(x.as<const float>(), slope.as<const float>(), static_cast<size_t>(elements / columns),
                 static_cast<size_t>(columns), out.as<float>());
  return true;
}

}  // namespace

void prelu(const TensorView& x, const TensorView& slope, const TensorView& out) {
  if (prelu_by_columns(x, slope, out)) return;
  const float* in = x.as<const float>();
  const float* s = slope.as<const float>();
  float* result = out.as<float>();
  const Shape* inputs[2] = {&x.shape, &slope.shape};
  for_each_broadcast<2>(out.shape, inputs, [&](int64_t i, const int64_t* offsets) {
    const float v = in[offsets[0]];
    result[i] = v >= 0.0f ? v : s[offsets[1]] * v;
  });
}

}  // namespace edgemtl
