#include "runtime/kernels/mix.h"

#include "runtime/kernels/cpu_features.h"

namespace edgemtl {
namespace {

// The loops below are written once and compiled twice: for the baseline ISA
// (SSE2 on x86-64, NEON on arm64) and, on x86-64, inlined into an AVX2 copy
// picked at run time (twice the vector width: MIX is bound by its loads).
// AVX2 without FMA3: a product and a sum stay two roundings, so both copies
// give the same bits.
#define EMTL_MIX_INLINE inline __attribute__((always_inline))

// dst (+)= g0 * h0 + g1 * h1 + g2 * h2 + g3 * h3, left to right: four experts
// per pass over the output row, which stays in registers or L1. Plain loops
// over the columns, which the compiler vectorises.
EMTL_MIX_INLINE void mix4(float* __restrict dst, const float* __restrict h0, const float* __restrict h1,
          const float* __restrict h2, const float* __restrict h3, const float* g, size_t width, bool first) {
  const float g0 = g[0], g1 = g[1], g2 = g[2], g3 = g[3];
  if (first) {
    for (size_t i = 0; i < width; ++i) {
      float acc = g0 * h0[i];
      acc += g1 * h1[i];
      acc += g2 * h2[i];
      dst[i] = acc + g3 * h3[i];
    }
  } else {
    for (size_t i = 0; i < width; ++i) {
      float acc = dst[i] + g0 * h0[i];
      acc += g1 * h1[i];
      acc += g2 * h2[i];
      dst[i] = acc + g3 * h3[i];
    }
  }
}

EMTL_MIX_INLINE void mix1(float* __restrict dst, const float* __restrict h, float g, size_t width, bool first) {
  if (first) {
    for (size_t i = 0; i < width; ++i) dst[i] = g * h[i];
  } else {
    for (size_t i = 0; i < width; ++i) dst[i] += g * h[i];
  }
}

EMTL_MIX_INLINE void mix_rows(Span<const TensorView> inputs, const TensorView& out) {
  const size_t experts = inputs.size() - 1;
  const size_t rows = static_cast<size_t>(out.shape[0]);
  const size_t width = static_cast<size_t>(inputs[1].shape[1]);
  const size_t mixtures = static_cast<size_t>(out.shape[1]) / width;
  // Row r of input k (the gate, then the experts): a 1-row input (user stage,
  // constant) is the same for every r.
  auto row = [&](size_t k, size_t r) {
    const TensorView& v = inputs[k];
    const size_t per_row = static_cast<size_t>(v.shape[1]);
    return v.as<const float>() + (v.shape[0] == 1 ? 0 : r * per_row);
  };
  for (size_t r = 0; r < rows; ++r) {
    // After the first mixture the experts' rows are in L1 for the others.
    for (size_t m = 0; m < mixtures; ++m) {
      const float* g = row(0, r) + m * experts;
      float* dst = out.as<float>() + (r * mixtures + m) * width;
      size_t e = 0;
      for (; e + 4 <= experts; e += 4)
        mix4(dst, row(e + 1, r), row(e + 2, r), row(e + 3, r), row(e + 4, r), g + e, width, e == 0);
      for (; e < experts; ++e) mix1(dst, row(e + 1, r), g[e], width, e == 0);
    }
  }
}

void mix_baseline(Span<const TensorView> inputs, const TensorView& out) { mix_rows(inputs, out); }

#if defined(__x86_64__)
__attribute__((target("avx2"))) void mix_avx2(Span<const TensorView> inputs, const TensorView& out) {
  mix_rows(inputs, out);
}
#endif

}  // namespace

bool mix_isa_available(MixIsa isa) {
#if defined(__x86_64__)
  return isa == MixIsa::kBaseline || cpu_features().avx2;
#else
  return isa == MixIsa::kBaseline;
#endif
}

void mix_f32_on(MixIsa isa, Span<const TensorView> inputs, const TensorView& out) {
#if defined(__x86_64__)
  if (isa == MixIsa::kAvx2) return mix_avx2(inputs, out);
#endif
  (void)isa;
  mix_baseline(inputs, out);
}

void mix_f32(Span<const TensorView> inputs, const TensorView& out) {
  static const MixIsa isa = mix_isa_available(MixIsa::kAvx2) ? MixIsa::kAvx2 : MixIsa::kBaseline;
  mix_f32_on(isa, inputs, out);
}

}  // namespace edgemtl
