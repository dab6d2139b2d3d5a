#include "runtime/kernels/activation.h"

#include <cmath>

#include "runtime/kernels/cpu_features.h"
#include "runtime/kernels/x86_exp.h"

namespace edgemtl {
namespace {

#if defined(__x86_64__)
// 1 / (1 + exp(-x)), 16 at a time with the narrow softmax's exp16 (the scalar
// loop's libm exp took 4 ns an element): within 1e-6 of it, 1 for x above 104
// (exp16's clamp), about 6e-39 below -88 where the scalar loop gives 0 below
// -88.7; NaN stays NaN.
struct Sigmoid16 {
  EMTL_EXP16_TARGET __m512 operator()(__m512 v) const {
    const __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), v))));
  }
};

EMTL_EXP16_TARGET void sigmoid_avx512(const float* x, float* y, size_t count) { map16(x, y, count, Sigmoid16{}); }
#endif

}  // namespace

void relu_f32(const float* x, float* y, size_t count) {
  for (size_t i = 0; i < count; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void sigmoid_f32(const float* x, float* y, size_t count) {
#if defined(__x86_64__)
  if (cpu_features().avx512f) return sigmoid_avx512(x, y, count);
#endif
  for (size_t i = 0; i < count; ++i) y[i] = 1.0f / (1.0f + std::exp(-x[i]));
}

void tanh_f32(const float* x, float* y, size_t count) {
  for (size_t i = 0; i < count; ++i) y[i] = std::tanh(x[i]);
}

// Both sides computed, then selected: with -fno-trapping-math on this file
// (runtime/CMakeLists.txt) the loop vectorises; written as a branch, GCC kept
// one scalar compare-and-jump per element (4 ns each over random signs).
void leaky_relu_f32(const float* x, float* y, size_t count, float alpha) {
  for (size_t i = 0; i < count; ++i) {
    const float v = x[i], scaled = alpha * v;
    y[i] = v >= 0.0f ? v : scaled;
  }
}

void prelu_rows_f32(const float* x, const float* slope, size_t rows, size_t columns, float* y) {
  for (size_t r = 0; r < rows; ++r) {
    const float* in = x + r * columns;
    float* out = y + r * columns;
    for (size_t k = 0; k < columns; ++k) {
      const float v = in[k], scaled = slope[k] * v;
      out[k] = v >= 0.0f ? v : scaled;
    }
  }
}

void clip_f32(const float* x, float* y, size_t count, float min, float max) {
  for (size_t i = 0; i < count; ++i) y[i] = x[i] < min ? min : (x[i] > max ? max : x[i]);
}

void apply_activation_f32(float* data, size_t count, schema::Activation activation, float alpha) {
  switch (activation) {
    case schema::Activation::NONE: return;
    case schema::Activation::RELU: relu_f32(data, data, count); return;
    case schema::Activation::SIGMOID: sigmoid_f32(data, data, count); return;
    case schema::Activation::TANH: tanh_f32(data, data, count); return;
    case schema::Activation::LEAKY_RELU: leaky_relu_f32(data, data, count, alpha); return;
  }
}

}  // namespace edgemtl
