#include "runtime/kernels/input_addend.h"

namespace edgemtl {

void stage_input_addend(const float* x, size_t x_stride, size_t rows, size_t columns, const InputAddend& addend,
                        float* out) {
  for (size_t r = 0; r < rows; ++r) {
    const float* __restrict in = x + r * x_stride;
    const float* __restrict add = addend.data + r * addend.stride;
    float* __restrict row = out + r * columns;
    // Plain loops, which the compiler vectorises; the activations are ADD's (runtime/kernels/activation.cc):
    // `v > 0 ? v : 0` maps NaN to 0, `v >= 0 ? v : alpha * v` keeps it.
    switch (addend.activation) {
      case AddendActivation::kRelu:
        for (size_t k = 0; k < columns; ++k) {
          const float v = in[k] + add[k];
          row[k] = v > 0.0f ? v : 0.0f;
        }
        break;
      case AddendActivation::kLeakyRelu:
        for (size_t k = 0; k < columns; ++k) {
          const float v = in[k] + add[k];
          row[k] = v >= 0.0f ? v : addend.alpha * v;
        }
        break;
      case AddendActivation::kNone:
        for (size_t k = 0; k < columns; ++k) row[k] = in[k] + add[k];
        break;
    }
  }
}

}  // namespace edgemtl
