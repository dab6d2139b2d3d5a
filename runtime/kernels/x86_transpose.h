// A 16 x 16 transpose of 32-bit lanes in AVX-512F registers, for the GEMMs'
// narrow layers (f32_gemm.cc, int8_gemm_vnni.cc: x of 16 rows turned into
// one vector per k, or per 4 k of u8, whose lane i is row i).
#pragma once

#include "runtime/kernels/x86_intrinsics.h"

#if defined(__x86_64__)
namespace edgemtl {

// t[i] = row i of a 16 x 16 block -> t[j] = column j (lane i: row i).
__attribute__((target("avx512f"))) inline void transpose16x16(__m512 t[16]) {
  __m512 a[16], b[16];
#pragma GCC unroll 8
  for (int i = 0; i < 16; i += 2) {  // per 128-bit lane L: rows i, i + 1 at columns 4L .. 4L + 3, interleaved
    a[i] = _mm512_unpacklo_ps(t[i], t[i + 1]);
    a[i + 1] = _mm512_unpackhi_ps(t[i], t[i + 1]);
  }
#pragma GCC unroll 4
  for (int g = 0; g < 16; g += 4) {  // b[g + c], lane L: rows g .. g + 3 at column 4L + c
    b[g] = _mm512_shuffle_ps(a[g], a[g + 2], 0x44);
    b[g + 1] = _mm512_shuffle_ps(a[g], a[g + 2], 0xEE);
    b[g + 2] = _mm512_shuffle_ps(a[g + 1], a[g + 3], 0x44);
    b[g + 3] = _mm512_shuffle_ps(a[g + 1], a[g + 3], 0xEE);
  }
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {  // column 4L + c: lane L of b[c], b[4 + c], b[8 + c], b[12 + c]
    const __m512 even = _mm512_shuffle_f32x4(b[c], b[4 + c], 0x88), odd = _mm512_shuffle_f32x4(b[c], b[4 + c], 0xDD);
    const __m512 even_high = _mm512_shuffle_f32x4(b[8 + c], b[12 + c], 0x88);
    const __m512 odd_high = _mm512_shuffle_f32x4(b[8 + c], b[12 + c], 0xDD);
    t[c] = _mm512_shuffle_f32x4(even, even_high, 0x88);
    t[8 + c] = _mm512_shuffle_f32x4(even, even_high, 0xDD);
    t[4 + c] = _mm512_shuffle_f32x4(odd, odd_high, 0x88);
    t[12 + c] = _mm512_shuffle_f32x4(odd, odd_high, 0xDD);
  }
}

}  // namespace edgemtl
#endif
