// exp(x) for 16 floats in AVX-512F registers: the one vector exp of the
// runtime's own kernels (the narrow softmax, sigmoid, GELU), and the loop that
// maps such a function over an array. Compiled with function target
// attributes; nothing off x86-64.
#pragma once

#include "runtime/kernels/x86_intrinsics.h"

#if defined(__x86_64__)
#define EMTL_EXP16_TARGET __attribute__((target("avx512f")))

namespace edgemtl {

/// x = n ln2 + r with |r| <= ln2 / 2 (ln2 in two parts, so r is exact to about
/// 2^-40), exp(r) by its Taylor polynomial to degree 7 (truncation below
/// 2^-27), times 2^n by scalef (which gives 0 below the subnormals). x is
/// clamped to [-104, 88] first: -inf gives 0, and n stays finite; a NaN stays
/// NaN (min_ps and max_ps return their second operand when one is NaN). Within
/// 2 ulp of exp over [-104, 88].
EMTL_EXP16_TARGET inline __m512 exp16(__m512 x) {
  x = _mm512_min_ps(_mm512_set1_ps(88.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);  // ln2 = high + low, one rounding each
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

/// y[i] = f(x[i]) for i < count, 16 at a time, the last vector masked (in
/// place allowed). `f` is a function object whose operator() maps a __m512 to
/// a __m512 and has EMTL_EXP16_TARGET, so that it inlines here.
template <class F>
EMTL_EXP16_TARGET inline void map16(const float* x, float* y, size_t count, F f) {
  for (size_t i = 0; i < count; i += 16) {
    const __mmask16 mask = first_lanes(count - i < 16 ? count - i : 16);
    _mm512_mask_storeu_ps(y + i, mask, f(_mm512_maskz_loadu_ps(mask, x + i)));
  }
}

}  // namespace edgemtl
#endif
