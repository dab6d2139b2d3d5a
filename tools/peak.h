// The core's arithmetic peak, measured: f32 fused multiply-adds and int8 dot
// products on the widest units this CPU has (AVX-512 / AVX2+FMA3 / NEON),
// one thread, from registers only (independent accumulators, no memory).
// edgemtl-bench --peak reports the item stage as a fraction of it.
#pragma once

#include <string>

namespace edgemtl::tools {

struct Peak {
  double f32_gflops = 0.0;   ///< 2 FLOPs per multiply-add
  const char* f32_isa = "";  ///< "avx512f", "avx2+fma", "neon", "scalar"
  double int8_gops = 0.0;    ///< 2 ops per 8-bit multiply-add (vpdpbusd: 128 per 512-bit instruction); 0 if none
  const char* int8_isa = "";  ///< "avx512vnni", "avx-vnni", "neon-dotprod" or "" (no int8 dot-product unit measured)
};

/// Measures both peaks: the best of several short runs (~0.3 s in all).
Peak measure_peak();

/// "AMD EPYC (family 26, model 2)" from /proc/cpuinfo, or "unknown CPU".
std::string cpu_model();

}  // namespace edgemtl::tools
