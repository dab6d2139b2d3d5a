#include "runtime/kernels/layer_norm.h"

#include <cmath>

namespace edgemtl {

void layer_norm_f32(const float* x, int64_t outer, int64_t inner, const float* scale, const float* bias, float epsilon,
                    float* y) {
  const float count = static_cast<float>(inner);
  for (int64_t o = 0; o < outer; ++o) {
    const float* in = x + o * inner;
    float* result = y + o * inner;
    float sum = 0.0f;
    for (int64_t i = 0; i < inner; ++i) sum += in[i];
    const float mean = sum / count;
    float squares = 0.0f;
    for (int64_t i = 0; i < inner; ++i) {
      const float d = in[i] - mean;
      squares += d * d;
    }
    const float inv = 1.0f / std::sqrt(squares / count + epsilon);
    for (int64_t i = 0; i < inner; ++i) {
      const float v = (in[i] - mean) * inv * scale[i];
      result[i] = bias ? v + bias[i] : v;
    }
  }
}

}  // namespace edgemtl
