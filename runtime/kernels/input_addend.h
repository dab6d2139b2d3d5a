// FULLY_CONNECTED's optional 4th input (schema/edgemtl.fbs): the layer reads
// activation(x + addend) instead of x. It is the split first layer's sum
// act(W_i·i + W_u·u) moved into the layers that read its columns, so that the
// sum is not a pass over memory of its own: the AVX-512 VNNI kernel adds it
// while quantising x; the other kernels read a staged copy of the rows.
#pragma once

#include <cstddef>

#include "schema/edgemtl_generated.h"

namespace edgemtl {

/// Not owning: `data` points into the Session's tensors for one run.
struct InputAddend {
  const float* data = nullptr;  // row r of the addend at data + r * stride (stride 0: one row for all)
  size_t stride = 0;
  /// input_activation of x + addend: NONE, RELU or LEAKY_RELU (verified), as the
  /// ADD's fused activation computes it (kernels/activation.cc).
  schema::Activation activation = schema::Activation::NONE;
  float alpha = 0.0f;  // LEAKY_RELU's slope
  bool present() const { return data != nullptr; }
};

/// out[r * columns + k] = activation(x[r * x_stride + k] + addend[r, k]) for
/// r < rows, k < columns: the values the fused kernel computes, in the same f32
/// operations (one rounded add, then apply_activation_f32's), for the kernels
/// that cannot fuse it.
void stage_input_addend(const float* x, size_t x_stride, size_t rows, size_t columns, const InputAddend& addend,
                        float* out);

}  // namespace edgemtl
