// LAYER_NORM: normalisation over the last `inner` elements of each of `outer`
// slices, plain loops (two passes: mean, then variance), in place allowed.
#pragma once

#include <cstdint>

namespace edgemtl {

/// y = (x - mean) / sqrt(var + epsilon) * scale + bias per slice of `inner`
/// values; `scale` and `bias` have `inner` values (`bias` may be null).
void layer_norm_f32(const float* x, int64_t outer, int64_t inner, const float* scale, const float* bias, float epsilon,
                    float* y);

}  // namespace edgemtl
