#include "runtime/kernels/input_addend.h"

#include "runtime/kernels/activation.h"

namespace edgemtl {

void stage_input_addend(const float* x, size_t x_stride, size_t rows, size_t columns, const InputAddend& addend,
                        float* out) {
  for (size_t r = 0; r < rows; ++r) {
    const float* __restrict in = x + r * x_stride;
    const float* __restrict add = addend.data + r * addend.stride;
    float* __restrict row = out + r * columns;
    for (size_t k = 0; k < columns; ++k) row[k] = in[k] + add[k];
    apply_activation_f32(row, columns, addend.activation, addend.alpha);  // while the row is in L1
  }
}

}  // namespace edgemtl
