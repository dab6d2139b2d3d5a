// Elementwise float activations as plain loops (in place allowed: x == y).
#pragma once

#include <cstddef>

#include "schema/edgemtl_generated.h"

namespace edgemtl {

void relu_f32(const float* x, float* y, size_t count);
void sigmoid_f32(const float* x, float* y, size_t count);
void tanh_f32(const float* x, float* y, size_t count);
void leaky_relu_f32(const float* x, float* y, size_t count, float alpha);
/// PRELU with one slope per column: y[r, k] = x[r, k] >= 0 ? x[r, k] : slope[k] * x[r, k].
void prelu_rows_f32(const float* x, const float* slope, size_t rows, size_t columns, float* y);
void clip_f32(const float* x, float* y, size_t count, float min, float max);
/// Applies a fused `activation` in place (NONE does nothing).
void apply_activation_f32(float* data, size_t count, schema::Activation activation, float alpha);

}  // namespace edgemtl
