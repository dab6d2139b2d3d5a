// The runtime's own f32 fully-connected kernels (F32Gemm, through
// FullyConnected) on every ISA this CPU runs, and XNNPACK's path, against a
// naive loop in double; the same bits for any row split and thread count.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "runtime/kernels/f32_gemm.h"
#include "runtime/kernels/fully_connected.h"

namespace edgemtl {
namespace {

struct GemmCase {
  size_t rows, k, n, stride;  // stride > k: x is columns 5 .. 5 + k of wider rows
  bool with_bias;
  schema::Activation activation;
};

// The kernel paths to run: XNNPACK always, then each own ISA the CPU has.
std::vector<F32Isa> paths() {
  std::vector<F32Isa> isas = {F32Isa::kNone};
  for (F32Isa isa : {F32Isa::kAvx512, F32Isa::kAvx2})
    if (F32Gemm::supports(isa)) isas.push_back(isa);
  return isas;
}

void check_case(const GemmCase& t, uint32_t seed) {
  CAPTURE(t.rows);
  CAPTURE(t.k);
  CAPTURE(t.n);
  CAPTURE(t.stride);
  CAPTURE(t.with_bias);
  CAPTURE(static_cast<int>(t.activation));
  std::mt19937 random(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  const size_t offset = t.stride > t.k ? 5 : 0;
  std::vector<float> x(t.rows * t.stride + 16), w(t.n * t.k), b(t.n);
  for (float& v : x) v = uniform(random);
  for (float& v : w) v = uniform(random);
  for (float& v : b) v = uniform(random);
  // Naive loop in double, and the bound of f32 sequential summation.
  std::vector<double> want(t.rows * t.n), bound(t.rows * t.n);
  for (size_t r = 0; r < t.rows; ++r)
    for (size_t c = 0; c < t.n; ++c) {
      double acc = t.with_bias ? b[c] : 0.0, magnitude = std::fabs(acc);
      for (size_t k = 0; k < t.k; ++k) {
        const double term = static_cast<double>(x[r * t.stride + offset + k]) * w[c * t.k + k];
        acc += term;
        magnitude += std::fabs(term);
      }
      if (t.activation == schema::Activation::RELU) acc = acc > 0 ? acc : 0;
      if (t.activation == schema::Activation::SIGMOID) acc = 1 / (1 + std::exp(-acc));
      want[r * t.n + c] = acc;
      bound[r * t.n + c] = static_cast<double>(t.k + 2) * 6e-8 * magnitude + 1e-7;
    }
  std::vector<float> first;
  for (F32Isa isa : paths()) {
    CAPTURE(F32Gemm::isa_name(isa));
    FullyConnected fc;
    REQUIRE(fc.create(t.k, t.stride, t.n, w.data(), t.with_bias ? b.data() : nullptr, t.activation, 0.0f, isa)
                .is_ok());
    CHECK(fc.isa() == isa);
    std::vector<float> y(t.rows * t.n + 1, 42.0f);
    REQUIRE(fc.run(x.data() + offset, t.rows, y.data(), {}).is_ok());
    CHECK(y.back() == 42.0f);  // nothing written past rows x n
    size_t bad = 0;
    for (size_t i = 0; i < t.rows * t.n; ++i)
      if (!(std::fabs(y[i] - want[i]) <= bound[i])) ++bad;
    CHECK(bad == 0);
    if (isa == F32Isa::kNone) continue;
    // Own kernels: AVX-512 and AVX2 give the same bits (bias, then one FMA per k in order).
    if (first.empty())
      first = y;
    else
      CHECK(std::memcmp(first.data(), y.data(), y.size() * sizeof(float)) == 0);
    // A pool of 3 threads, and the rows as uneven ranges run one by one, give the same bits.
    std::vector<float> threaded(y.size(), 42.0f), ranges(y.size(), 42.0f);
    Result<std::unique_ptr<ThreadPool>> pool = ThreadPool::create(3, kSplitAnything);  // split however small
    REQUIRE(pool.ok());
    KernelThreads threads;
    threads.pool = pool->get();
    REQUIRE(fc.run(x.data() + offset, t.rows, threaded.data(), threads).is_ok());
    CHECK(std::memcmp(y.data(), threaded.data(), y.size() * sizeof(float)) == 0);
    if (t.activation == schema::Activation::NONE || t.activation == schema::Activation::RELU) {
      F32Gemm gemm;
      REQUIRE(gemm.create(t.k, t.n, w.data(), t.with_bias ? b.data() : nullptr,
                          t.activation == schema::Activation::RELU, isa).is_ok());
      for (size_t begin = 0; begin < t.rows;) {
        const size_t end = std::min(t.rows, begin + 1 + (begin * 7 + 3) % 11);  // ranges of 1 .. 11 rows
        gemm.run_rows(x.data() + offset, t.stride, begin, end, ranges.data());
        begin = end;
      }
      CHECK(std::memcmp(y.data(), ranges.data(), y.size() * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("f32 fully connected, own kernels and XNNPACK: a naive loop for every shape remainder") {
  using schema::Activation;
  const GemmCase cases[] = {
      // rows around the row blocks (8 AVX-512, 6 AVX2); n around the panels (32 / 16, half 16 / 8)
      {1, 1, 1, 1, true, Activation::NONE},
      {5, 3, 7, 3, true, Activation::RELU},
      {8, 16, 16, 16, false, Activation::RELU},
      {9, 13, 17, 13, true, Activation::NONE},
      {13, 64, 32, 64, true, Activation::RELU},
      {17, 130, 33, 130, true, Activation::NONE},
      {24, 64, 48, 64, true, Activation::RELU},
      {7, 100, 50, 120, true, Activation::RELU},    // strided window
      {19, 31, 100, 40, false, Activation::NONE},   // strided, no bias
      {168, 114, 264, 114, true, Activation::RELU},  // an item tile of the benchmark's stacked first layer
      {168, 256, 128, 256, true, Activation::SIGMOID},
      {43, 515, 9, 515, true, Activation::NONE},
      // at most 4 outputs (AVX-512: 16 rows at a time, k in blocks of 16): heads and narrow gates
      {72, 32, 1, 32, true, Activation::SIGMOID},
      {37, 128, 4, 140, true, Activation::NONE},    // strided window
      {16, 17, 2, 17, false, Activation::RELU},
      {15, 300, 3, 300, true, Activation::RELU},
      {1, 5, 4, 5, true, Activation::NONE},
  };
  uint32_t seed = 10;
  for (const GemmCase& t : cases) check_case(t, seed++);
}

TEST_CASE("f32 GEMM: an ISA the CPU does not run is refused, FullyConnected falls back to XNNPACK") {
  F32Gemm gemm;
  const float w[2] = {1, 2};
  CHECK(gemm.create(2, 1, w, nullptr, false, F32Isa::kNone).code() == Error::kUnsupported);
  FullyConnected fc;
  REQUIRE(fc.create(2, 2, 1, w, nullptr, schema::Activation::NONE, 0.0f, F32Isa::kNone).is_ok());
  CHECK(fc.isa() == F32Isa::kNone);
  if (!F32Gemm::supports(F32Isa::kAvx512)) {
    CHECK(gemm.create(2, 1, w, nullptr, false, F32Isa::kAvx512).code() == Error::kUnsupported);
    REQUIRE(fc.create(2, 2, 1, w, nullptr, schema::Activation::NONE, 0.0f, F32Isa::kAvx512).is_ok());
    CHECK(fc.isa() == F32Isa::kNone);
  }
  std::string offered = "xnnpack";
  for (F32Isa isa : {F32Isa::kAvx512, F32Isa::kAvx2})
    if (F32Gemm::supports(isa)) offered += std::string(", ") + F32Gemm::isa_name(isa);
  MESSAGE("f32 kernel paths on this CPU: " << offered);
}

}  // namespace
}  // namespace edgemtl
