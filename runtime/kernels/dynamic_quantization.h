// The per-row input quantisation of dynamic int8 FULLY_CONNECTED
// (FullyConnectedOptions.input_mode DYNAMIC_ROW, schema/edgemtl.fbs): one
// place for the scale and zero point that every kernel path computes.
#pragma once

#include <cmath>
#include <cstdint>

namespace edgemtl {

struct DynamicRowQuantization {
  float scale = 1.0f;      // s_r
  int32_t zero_point = 0;  // z_r in [0, 255]
};

/// From the row's smallest and largest value (NaN-free: the callers take them
/// with min/max against 0): lo = min(0, low), hi = max(0, high),
/// s = (hi - lo) / 255 (1 when that is 0: a row of zeros), z = clamp(round(-lo / s), 0, 255).
inline DynamicRowQuantization dynamic_row_quantization(float low, float high) {
  const float lo = low < 0.0f ? low : 0.0f, hi = high > 0.0f ? high : 0.0f;
  DynamicRowQuantization q;
  const float scale = (hi - lo) / 255.0f;
  q.scale = scale > 0.0f ? scale : 1.0f;
  const float z = std::nearbyint(-lo / q.scale);  // in [0, 255] for finite lo, hi
  q.zero_point = z >= 0.0f ? (z <= 255.0f ? static_cast<int32_t>(z) : 255) : 0;  // NaN (inf range): 0
  return q;
}

}  // namespace edgemtl
