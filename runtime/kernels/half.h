// IEEE 754 half precision <-> float, bit-exact (fp16 weights are stored, f32 computed).
#pragma once

#include <cstdint>
#include <cstring>

namespace edgemtl {

/// Exact: every half value is a float. Branch-free but for the subnormals, so
/// that loops over halves vectorise: a normal half's exponent is rebiased by
/// 127 - 15 = 112 in place (inf and NaN by 255 - 31 = 224); a subnormal half
/// m · 2^-24 is converted as an integer and scaled, exactly.
inline float half_to_float(uint16_t h) {
  const uint32_t magnitude = h & 0x7FFFu;
  uint32_t bits = (magnitude << 13) + (magnitude >= 0x7C00u ? (224u << 23) : (112u << 23));
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  if (magnitude < 0x400u) f = static_cast<float>(magnitude) * 0x1p-24f;  // zero or subnormal
  std::memcpy(&bits, &f, sizeof(bits));
  bits |= static_cast<uint32_t>(h & 0x8000u) << 16;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

/// Widens `count` halves (possibly unaligned bytes) to floats.
inline void half_to_float_n(const void* halves, float* out, size_t count) {
  const uint8_t* bytes = static_cast<const uint8_t*>(halves);
  for (size_t i = 0; i < count; ++i) {
    uint16_t h;
    std::memcpy(&h, bytes + 2 * i, sizeof(h));
    out[i] = half_to_float(h);
  }
}

}  // namespace edgemtl
