#include "runtime/kernels/matmul.h"

namespace edgemtl {

void matmul_f32(const TensorView& a, const TensorView& b, const TensorView& out) {
  const int64_t m = a.shape[a.shape.rank - 2], k = a.shape[a.shape.rank - 1], n = b.shape[b.shape.rank - 1];
  Shape a_batch = a.shape, b_batch = b.shape, out_batch = out.shape;
  a_batch.rank -= 2;
  b_batch.rank -= 2;
  out_batch.rank -= 2;
  const float* x = a.as<const float>();
  const float* y = b.as<const float>();
  float* z = out.as<float>();
  const Shape* inputs[2] = {&a_batch, &b_batch};
  // for_each_broadcast walks batch indices; offsets count whole matrices.
  for_each_broadcast<2>(out_batch, inputs, [&](int64_t batch, const int64_t* offsets) {
    const float* lhs = x + offsets[0] * m * k;
    const float* rhs = y + offsets[1] * k * n;
    float* dst = z + batch * m * n;
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) dst[i * n + j] = 0.0f;
      for (int64_t p = 0; p < k; ++p) {
        const float lhs_value = lhs[i * k + p];
        for (int64_t j = 0; j < n; ++j) dst[i * n + j] += lhs_value * rhs[p * n + j];
      }
    }
  });
}

}  // namespace edgemtl
