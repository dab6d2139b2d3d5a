// What the GEMMs' narrow layers (f32_gemm.cc, int8_gemm_vnni.cc: at most 4
// outputs, 16 rows at a time) share: 16 rows of x loaded and transposed in
// AVX-512F registers (one vector per k, or per 4 k of u8, whose lane i is row
// i), and the results, a vector of 16 rows per output, written back as rows.
#pragma once

#include <cstddef>
#include <cstdint>

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

/// t[j] lane i = 32-bit lane j of row i, for rows i < `rows` (<= 16) at
/// `first` + i * `stride_bytes` and lanes j < `lanes` (<= 16); the rest 0.
/// Masked: nothing past a row's `lanes` nor past the last row is read.
__attribute__((target("avx512f"))) inline void load_rows_transposed(const void* first, size_t stride_bytes,
                                                                     size_t rows, size_t lanes, __m512 t[16]) {
  const __mmask16 mask = first_lanes(lanes);
  const auto* bytes = static_cast<const uint8_t*>(first);
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i)
    t[i] = static_cast<size_t>(i) < rows ? _mm512_maskz_loadu_ps(mask, bytes + static_cast<size_t>(i) * stride_bytes)
                                         : _mm512_setzero_ps();
  transpose16x16(t);
}

/// y[i * N + n] = lane i of columns[n], for rows i < `rows` (<= 16).
template <int N>
__attribute__((target("avx512f"))) inline void store_columns_as_rows(const __m512 columns[N], float* y, size_t rows) {
  float lanes[N][16];
#pragma GCC unroll 4
  for (int n = 0; n < N; ++n) _mm512_storeu_ps(lanes[n], columns[n]);
  for (size_t i = 0; i < rows; ++i)
    for (int n = 0; n < N; ++n) y[i * N + static_cast<size_t>(n)] = lanes[n][i];
}

}  // namespace edgemtl
#endif
