// What this CPU offers the runtime's own x86-64 kernels, read once. Every
// kernel that picks an instruction set at run time asks here, so that the
// choice has one source (and tests and tools see the same answer).
#pragma once

namespace edgemtl {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512_vnni = false;  // AVX-512 F, BW, VL and VNNI together: what the int8 VNNI kernel needs
};

/// This CPU's features (all false off x86-64). The first call reads them;
/// later calls return the same object, from any thread.
const CpuFeatures& cpu_features();

}  // namespace edgemtl
