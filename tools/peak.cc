#include "tools/peak.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "runtime/kernels/cpu_features.h"

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

namespace edgemtl::tools {
namespace {

// Twelve independent accumulators hide the FMA latency (4 cycles) on two
// units; each loop iteration issues 12 instructions and nothing else.
constexpr int kAccumulators = 12;
volatile float g_float_sink;
volatile int32_t g_int_sink;

#if defined(__x86_64__)
__attribute__((target("avx512f"))) void fma_avx512(uint64_t iterations) {
  __m512 acc[kAccumulators];
  for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm512_set1_ps(0.001f * float(i));
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.0001f);
  for (uint64_t n = 0; n < iterations; ++n)
    for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 sum = acc[0];
  for (int i = 1; i < kAccumulators; ++i) sum = _mm512_add_ps(sum, acc[i]);
  float lanes[16];  // (not _mm512_reduce_add_ps: gcc 12 warns inside it)
  _mm512_storeu_ps(lanes, sum);
  g_float_sink = lanes[0];
}

__attribute__((target("avx2,fma"))) void fma_avx2(uint64_t iterations) {
  __m256 acc[kAccumulators];
  for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm256_set1_ps(0.001f * float(i));
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(0.0001f);
  for (uint64_t n = 0; n < iterations; ++n)
    for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  float lanes[8];
  __m256 sum = acc[0];
  for (int i = 1; i < kAccumulators; ++i) sum = _mm256_add_ps(sum, acc[i]);
  _mm256_storeu_ps(lanes, sum);
  g_float_sink = lanes[0];
}

__attribute__((target("avx512f,avx512vnni"))) void dot_avx512vnni(uint64_t iterations) {
  __m512i acc[kAccumulators];
  for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm512_set1_epi32(i);
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
  for (uint64_t n = 0; n < iterations; ++n)
    for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
  __m512i sum = acc[0];
  for (int i = 1; i < kAccumulators; ++i) sum = _mm512_add_epi32(sum, acc[i]);
  int32_t lanes[16];
  _mm512_storeu_si512(lanes, sum);
  g_int_sink = lanes[0];
}
#elif defined(__aarch64__)
void fma_neon(uint64_t iterations) {
  float32x4_t acc[kAccumulators];
  for (int i = 0; i < kAccumulators; ++i) acc[i] = vdupq_n_f32(0.001f * float(i));
  const float32x4_t a = vdupq_n_f32(0.999f), b = vdupq_n_f32(0.0001f);
  for (uint64_t n = 0; n < iterations; ++n)
    for (int i = 0; i < kAccumulators; ++i) acc[i] = vfmaq_f32(b, acc[i], a);
  float32x4_t sum = acc[0];
  for (int i = 1; i < kAccumulators; ++i) sum = vaddq_f32(sum, acc[i]);
  g_float_sink = vaddvq_f32(sum);
}
#else
void fma_scalar(uint64_t iterations) {
  float acc[kAccumulators];
  for (int i = 0; i < kAccumulators; ++i) acc[i] = 0.001f * float(i);
  for (uint64_t n = 0; n < iterations; ++n)
    for (int i = 0; i < kAccumulators; ++i) acc[i] = acc[i] * 0.999f + 0.0001f;
  float sum = 0;
  for (float v : acc) sum += v;
  g_float_sink = sum;
}
#endif

// Best rate (operations per second) of `kernel` over a few runs of `iterations`.
double best_rate(void (*kernel)(uint64_t), uint64_t iterations, double ops_per_iteration) {
  kernel(iterations / 4);  // warm: clocks up, code paged in
  double best = 0.0;
  for (int run = 0; run < 5; ++run) {
    const auto start = std::chrono::steady_clock::now();
    kernel(iterations);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (seconds > 0) best = std::max(best, ops_per_iteration * double(iterations) / seconds);
  }
  return best;
}

}  // namespace

Peak measure_peak() {
  Peak peak;
  constexpr uint64_t kIterations = 2'000'000;  // 24 M instructions: ~4 ms at 2 per cycle
#if defined(__x86_64__)
  const edgemtl::CpuFeatures& cpu = edgemtl::cpu_features();
  if (cpu.avx512f) {
    peak.f32_isa = "avx512f";
    peak.f32_gflops = best_rate(fma_avx512, kIterations, kAccumulators * 16 * 2) / 1e9;
  } else if (cpu.avx2 && cpu.fma) {
    peak.f32_isa = "avx2+fma";
    peak.f32_gflops = best_rate(fma_avx2, kIterations, kAccumulators * 8 * 2) / 1e9;
  }
  if (cpu.avx512_vnni) {
    peak.int8_isa = "avx512vnni";
    peak.int8_gops = best_rate(dot_avx512vnni, kIterations, kAccumulators * 64 * 2) / 1e9;
  }
#elif defined(__aarch64__)
  peak.f32_isa = "neon";
  peak.f32_gflops = best_rate(fma_neon, kIterations, kAccumulators * 4 * 2) / 1e9;
#else
  peak.f32_isa = "scalar";
  peak.f32_gflops = best_rate(fma_scalar, kIterations, kAccumulators * 2) / 1e9;
#endif
  return peak;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, name, family, model;
  auto value = [](const std::string& l) {
    const size_t colon = l.find(':');
    return colon == std::string::npos ? std::string() : l.substr(l.find_first_not_of(" \t", colon + 1));
  };
  while (std::getline(in, line) && !line.empty()) {
    if (name.empty() && (line.rfind("model name", 0) == 0 || line.rfind("Hardware", 0) == 0)) name = value(line);
    else if (family.empty() && line.rfind("cpu family", 0) == 0) family = value(line);
    else if (model.empty() && line.rfind("model\t", 0) == 0) model = value(line);
    else if (model.empty() && line.rfind("CPU part", 0) == 0) model = value(line);
  }
  if (name.empty() && model.empty()) return "unknown CPU";
  std::string text = name.empty() ? "CPU" : name;
  if (!family.empty()) text += " (family " + family + ", model " + model + ")";
  else if (!model.empty()) text += " (part " + model + ")";
  return text;
}

}  // namespace edgemtl::tools
