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
#endif
