// <immintrin.h> for the x86-64 kernels compiled with function target
// attributes (no global -m flags); nothing off x86-64.
#pragma once

#if defined(__x86_64__)
// GCC 12 warns inside its own AVX-512 intrinsics (their _mm512_undefined_*
// self-initialisation, GCC bug 105593).
#if defined(__clang__)
#include <immintrin.h>
#else
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

#include <cstddef>

namespace edgemtl {
/// A mask of the first `lanes` (<= 16) of 16 lanes.
inline __mmask16 first_lanes(size_t lanes) { return static_cast<__mmask16>((1u << lanes) - 1); }
}  // namespace edgemtl
#endif
