// Quantised kernels against naive loops written from the schema's formulas:
// the INT8 fully-connected layer (per channel and per tensor), embedding
// tables (INT8, INT8_ROW_F16, UINT4_ROW_F16, UINT4_ROW_CODEBOOK, FLOAT16 rows on every instruction
// set of dequantize_row), and half -> float.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "runtime/kernels/embedding.h"
#include "runtime/kernels/fully_connected.h"
#include "runtime/kernels/half.h"
#include "runtime/kernels/int8_gemm_vnni.h"
#include "runtime/kernels/quantized_fully_connected.h"

namespace edgemtl {
namespace {

int8_t clamp_int8(double q, int low = -128) {
  return static_cast<int8_t>(std::min(127.0, std::max(static_cast<double>(low), q)));
}

// schema/edgemtl.fbs, FULLY_CONNECTED with an INT8 weight, evaluated in double.
std::vector<float> reference_int8_fc(const std::vector<float>& x, size_t rows, size_t k, size_t n,
                                     const std::vector<int8_t>& w, const std::vector<float>& w_scales,
                                     const std::vector<int32_t>& bias, QuantParams in, QuantParams out, bool relu) {
  std::vector<float> y(rows * n);
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < n; ++c) {
      int64_t acc = bias[c];
      for (size_t i = 0; i < k; ++i) {
        const int xq = clamp_int8(std::nearbyint(x[r * k + i] / in.scale) + in.zero_point);
        acc += static_cast<int64_t>(xq - in.zero_point) * w[c * k + i];
      }
      const double w_scale = w_scales.size() == 1 ? w_scales[0] : w_scales[c];
      const double requantised = std::nearbyint(double(acc) * in.scale * w_scale / out.scale) + out.zero_point;
      const int yq = clamp_int8(requantised, relu ? out.zero_point : -128);
      y[r * n + c] = out.scale * static_cast<float>(yq - out.zero_point);
    }
  return y;
}

TEST_CASE("int8 fully connected: per channel (1x1 convolution) and per tensor match the schema's formula") {
  const size_t rows = 9, k = 21, n = 6;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> x(rows * k);
  for (float& v : x) v = 2.0f * uniform(rng) + 0.3f;
  std::vector<int8_t> w(n * k);
  for (int8_t& v : w) v = static_cast<int8_t>(std::lround(127 * uniform(rng)));
  std::vector<int32_t> bias(n);
  for (int32_t& v : bias) v = static_cast<int32_t>(std::lround(3000 * uniform(rng)));
  const QuantParams in{2.6f / 255.0f, -13};
  const QuantParams out{0.9f / 255.0f * 40.0f, 5};
  for (bool per_channel : {true, false}) {
    std::vector<float> scales = per_channel ? std::vector<float>{0.004f, 0.01f, 0.002f, 0.007f, 0.003f, 0.005f}
                                            : std::vector<float>{0.006f};
    for (auto activation : {schema::Activation::NONE, schema::Activation::RELU, schema::Activation::SIGMOID}) {
      CAPTURE(per_channel);
      CAPTURE(static_cast<int>(activation));
      QuantizedFullyConnected fc;
      REQUIRE(fc.create(k, k, n, w.data(), scales.data(), per_channel, bias.data(), in, out, activation, 0.01f, rows)
                  .is_ok());
      std::vector<int8_t> scratch(fc.scratch_bytes());
      std::vector<float> y(rows * n);
      REQUIRE(fc.run(x.data(), rows, y.data(), scratch.data(), {}).is_ok());
      std::vector<float> want =
          reference_int8_fc(x, rows, k, n, w, scales, bias, in, out, activation == schema::Activation::RELU);
      int saturated = 0;
      for (size_t i = 0; i < y.size(); ++i) {
        float expected = want[i];
        if (activation == schema::Activation::SIGMOID) expected = 1.0f / (1.0f + std::exp(-expected));
        // The requantisation may round one step of the output scale differently.
        const float step = activation == schema::Activation::SIGMOID ? out.scale / 4 : out.scale;
        CHECK(std::fabs(y[i] - expected) <= step * 1.001f);
        if (std::fabs(want[i] - out.scale * (127 - out.zero_point)) < 1e-6f) ++saturated;
      }
      CHECK(saturated < static_cast<int>(y.size()) / 4);  // the ranges exercise real values, not the clamp
      // More rows than planned is an error, not an overrun.
      CHECK(fc.run(x.data(), rows + 1, y.data(), scratch.data(), {}).code() == Error::kInternal);
    }
  }
}

TEST_CASE("int8 fully connected reads a window of columns of wider rows") {
  const size_t rows = 5, k = 10, n = 4, stride = 23, first_column = 7;
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> wide(rows * stride + 16), window(rows * k);
  for (float& v : wide) v = uniform(rng);
  for (size_t r = 0; r < rows; ++r)
    for (size_t p = 0; p < k; ++p) window[r * k + p] = wide[r * stride + first_column + p];
  std::vector<int8_t> w(n * k);
  for (int8_t& v : w) v = static_cast<int8_t>(std::lround(127 * uniform(rng)));
  const std::vector<int32_t> bias = {100, -200, 300, 0};
  const std::vector<float> scales = {0.004f, 0.01f, 0.002f, 0.007f};
  const QuantParams in{2.0f / 255.0f, 0}, out{0.05f, -3};
  QuantizedFullyConnected fc;
  REQUIRE(fc.create(k, stride, n, w.data(), scales.data(), true, bias.data(), in, out, schema::Activation::NONE, 0.0f,
                    rows).is_ok());
  std::vector<int8_t> scratch(fc.scratch_bytes());
  std::vector<float> y(rows * n);
  REQUIRE(fc.run(wide.data() + first_column, rows, y.data(), scratch.data(), {}).is_ok());
  const std::vector<float> want = reference_int8_fc(window, rows, k, n, w, scales, bias, in, out, false);
  for (size_t i = 0; i < y.size(); ++i) CHECK(std::fabs(y[i] - want[i]) <= out.scale * 1.001f);
}

TEST_CASE("half to float is exact on known values") {
  CHECK(half_to_float(0x3C00) == 1.0f);
  CHECK(half_to_float(0xC000) == -2.0f);
  CHECK(half_to_float(0x7BFF) == 65504.0f);
  CHECK(half_to_float(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
  CHECK(half_to_float(0x03FF) == std::ldexp(1023.0f, -24));  // largest subnormal
  CHECK(half_to_float(0x3555) == std::ldexp(static_cast<float>(0x555 | 0x400), -12));  // 0.333...
  CHECK(std::isinf(half_to_float(0x7C00)));
  CHECK(std::isnan(half_to_float(0x7E00)));
  CHECK(std::signbit(half_to_float(0x8000)));
}

TEST_CASE("embedding lookup dequantises INT8 rows with their scale and widens FLOAT16 rows") {
  const int8_t q[3 * 2] = {1, -2, 127, -127, 0, 5};
  const float scales[3] = {0.5f, 0.01f, 2.0f};
  const EmbeddingTable int8_table{q, 3, 2, schema::DType::INT8, scales};
  const int64_t ids[3] = {2, 0, 1};
  float out[6];
  REQUIRE(embedding_lookup(int8_table, ids, 3, 1, -1, "feature 'f'", out).is_ok());
  const float want[6] = {0.0f, 10.0f, 0.5f, -1.0f, 1.27f, -1.27f};
  for (int i = 0; i < 6; ++i) CHECK(out[i] == doctest::Approx(want[i]).epsilon(1e-6));

  const uint16_t halves[2 * 2] = {0x3C00, 0xC000, 0x3800, 0x0001};  // 1, -2, 0.5, 2^-24
  const EmbeddingTable half_table{halves, 2, 2, schema::DType::FLOAT16, nullptr};
  const int64_t half_ids[2] = {1, 0};
  REQUIRE(embedding_lookup(half_table, half_ids, 2, 1, -1, "feature 'f'", out).is_ok());
  CHECK(out[0] == 0.5f);
  CHECK(out[1] == std::ldexp(1.0f, -24));
  CHECK(out[2] == 1.0f);
  CHECK(out[3] == -2.0f);
  const int64_t bad[1] = {2};
  CHECK(embedding_lookup(half_table, bad, 1, 1, -1, "feature 'f'", out).code() == Error::kIdOutOfRange);
}

// A half's value from its fields (schema/edgemtl.fbs: IEEE 754 binary16), as
// f32 bits; NaN keeps its payload (quiet or signalling) in the top mantissa bits.
uint32_t naive_half_bits(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h >> 15) << 31, exponent = (h >> 10) & 31, mantissa = h & 0x3FF;
  if (exponent == 31) return sign | 0x7F800000u | mantissa << 13;
  const double magnitude = exponent == 0 ? std::ldexp(double(mantissa), -24)
                                         : std::ldexp(double(1024 + mantissa), int(exponent) - 25);
  const float value = static_cast<float>(magnitude);  // exact
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return sign | bits;
}

double naive_half(uint16_t h) {
  const uint32_t bits = naive_half_bits(h);
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

uint32_t bits_of(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  return bits;
}

// Every instruction set this CPU runs, the portable one first.
std::vector<LookupIsa> lookup_paths() {
  std::vector<LookupIsa> isas;
  for (LookupIsa isa : {LookupIsa::kPortable, LookupIsa::kAvx2, LookupIsa::kNeon})
    if (lookup_isa_supported(isa)) isas.push_back(isa);
  return isas;
}

TEST_CASE("dequantize_row: every instruction set gives a naive loop's bits at every width and offset") {
#if defined(__x86_64__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;  // F16C: CPUID leaf 1, ECX bit 29
  const bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 29)) != 0;
  CHECK(lookup_isa_supported(LookupIsa::kAvx2) == (__builtin_cpu_supports("avx2") && f16c));
#elif defined(__aarch64__)
  CHECK(lookup_isa_supported(LookupIsa::kNeon));
#endif
  CHECK(lookup_isa_supported(best_lookup_isa()));
  std::mt19937 rng(16);
  // Row parameters over the whole finite half range (subnormal and zero included); FLOAT16 rows
  // any bit pattern (signalling and quiet NaNs, infinities, subnormals, signed zeros).
  auto finite_half = [&] {
    uint16_t h;
    do h = static_cast<uint16_t>(rng()); while (((h >> 10) & 31) == 31);
    return h;
  };
  const size_t rows = 5;
  for (size_t dim : {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 47, 63, 64, 65, 131}) {
    CAPTURE(dim);
    std::vector<int8_t> codes(rows * dim);
    for (int8_t& c : codes) c = static_cast<int8_t>(rng());
    std::vector<uint8_t> nibbles(rows * ((dim + 1) / 2));
    for (uint8_t& b : nibbles) b = static_cast<uint8_t>(rng());
    std::vector<uint16_t> halves(rows * dim), params(2 * rows);
    for (uint16_t& h : halves) h = static_cast<uint16_t>(rng());
    // The special values surely present: signalling and quiet NaNs, infinities, zeros, subnormals, extremes.
    const uint16_t special[16] = {0x7C01, 0x7D00, 0xFDFF, 0x7E00, 0xFFFF, 0x7C00, 0xFC00, 0x0000,
                                  0x8000, 0x0001, 0x83FF, 0x0400, 0x7BFF, 0xFBFF, 0x3C00, 0x7E01};
    for (size_t i = 0; i < 16 && i < halves.size(); ++i) halves[i] = special[i];
    for (uint16_t& p : params) p = finite_half();
    std::vector<float> f32_scales(rows);
    for (float& s : f32_scales) s = std::ldexp(float(rng() % (1 << 24)), -int(rng() % 40) - 20);
    // UINT4_ROW_CODEBOOK: 256 scales >= 0 (0, subnormal, up to 2^100: no product overflows),
    // a random index per row, row 0 on the entry 0 (its products are signed zeros).
    std::vector<float> codebook(256);
    for (float& c : codebook) c = std::ldexp(float(rng() % (1 << 24)), int(rng() % 200) - 124);
    codebook[0] = 0.0f;
    codebook[1] = std::ldexp(1.0f, -149);
    codebook[2] = std::ldexp(float((1 << 24) - 1), 76);
    std::vector<uint8_t> scale_index(rows);
    for (uint8_t& k : scale_index) k = static_cast<uint8_t>(rng());
    scale_index[0] = 0;
    if (rows > 1) scale_index[1] = 2;

    struct Encoding {
      schema::DType dtype;
      const void* data;
    };
    for (const Encoding e : {Encoding{schema::DType::INT8, codes.data()},
                             Encoding{schema::DType::INT8_ROW_F16, codes.data()},
                             Encoding{schema::DType::UINT4_ROW_F16, nibbles.data()},
                             Encoding{schema::DType::UINT4_ROW_CODEBOOK, nibbles.data()},
                             Encoding{schema::DType::FLOAT16, halves.data()}}) {
      CAPTURE(static_cast<int>(e.dtype));
      EmbeddingTable table{e.data, static_cast<int64_t>(rows), static_cast<int64_t>(dim), e.dtype,
                           f32_scales.data(), params.data()};
      table.codebook = codebook.data();
      table.scale_index = scale_index.data();
      // The naive loop: the schema's formula in double (every product and sum here is exact
      // in double), rounded to f32 once.
      std::vector<uint32_t> want(rows * dim);
      for (size_t r = 0; r < rows; ++r)
        for (size_t d = 0; d < dim; ++d) {
          const size_t i = r * dim + d;
          switch (e.dtype) {
            case schema::DType::INT8:
              want[i] = bits_of(static_cast<float>(double(f32_scales[r]) * codes[i]));
              break;
            case schema::DType::INT8_ROW_F16:
              want[i] = bits_of(static_cast<float>(naive_half(params[r]) * codes[i]));
              break;
            case schema::DType::UINT4_ROW_F16: {
              const uint8_t byte = nibbles[r * ((dim + 1) / 2) + d / 2];
              const int q = d % 2 ? byte >> 4 : byte & 0x0F;
              want[i] = bits_of(static_cast<float>(naive_half(params[2 * r]) * q + naive_half(params[2 * r + 1])));
              break;
            }
            case schema::DType::UINT4_ROW_CODEBOOK: {  // 24 x 5 significant bits: exact in double
              const uint8_t byte = nibbles[r * ((dim + 1) / 2) + d / 2];
              const int q = d % 2 ? byte >> 4 : byte & 0x0F;
              want[i] = bits_of(static_cast<float>(double(codebook[scale_index[r]]) * (q - 7.5)));
              break;
            }
            default:
              want[i] = naive_half_bits(halves[i]);
              break;
          }
        }
      for (LookupIsa isa : lookup_paths()) {
        CAPTURE(lookup_isa_name(isa));
        // Whole rows, then each row from every even offset on (BAG reads 64-element parts), one
        // element past the end left untouched.
        for (size_t begin = 0; begin < dim; begin += 2) {
          CAPTURE(begin);
          for (size_t r = 0; r < rows; ++r) {
            std::vector<float> got(dim - begin + 1, 1234.5f);
            dequantize_row(table, r, begin, dim - begin, got.data(), isa);
            size_t mismatches = 0;
            for (size_t d = begin; d < dim; ++d) mismatches += bits_of(got[d - begin]) != want[r * dim + d];
            CHECK(mismatches == 0);
            CHECK(got.back() == 1234.5f);
          }
        }
      }
      // The lookups (on the best instruction set) read the same rows.
      const int64_t ids[4] = {3, 0, 4, 3};
      std::vector<float> out(4 * dim);
      REQUIRE(embedding_lookup(table, ids, 4, 1, -1, "feature 'f'", out.data()).is_ok());
      size_t mismatches = 0;
      for (size_t i = 0; i < 4; ++i)
        for (size_t d = 0; d < dim; ++d) mismatches += bits_of(out[i * dim + d]) != want[size_t(ids[i]) * dim + d];
      CHECK(mismatches == 0);
    }
  }
}

// A table of every encoding over the same random codes, for the lookups' tests.
struct EncodedTables {
  std::vector<int8_t> codes;
  std::vector<uint8_t> nibbles;
  std::vector<uint16_t> halves, params;
  std::vector<float> floats, f32_scales, codebook;
  std::vector<uint8_t> scale_index;
  EncodedTables(size_t rows, size_t dim, std::mt19937& rng)
      : codes(rows * dim), nibbles(rows * ((dim + 1) / 2)), halves(rows * dim), params(2 * rows),
        floats(rows * dim), f32_scales(rows), codebook(256), scale_index(rows) {
    for (int8_t& c : codes) c = static_cast<int8_t>(rng());
    for (uint8_t& b : nibbles) b = static_cast<uint8_t>(rng());
    // Finite halves and parameters (no NaN: a sum of two NaNs may keep either payload).
    auto finite_half = [&] {
      uint16_t h;
      do h = static_cast<uint16_t>(rng()); while (((h >> 10) & 31) == 31);
      return h;
    };
    for (uint16_t& h : halves) h = finite_half();
    for (uint16_t& p : params) p = finite_half();
    for (float& f : floats) f = std::ldexp(float(int(rng() % (1 << 24)) - (1 << 23)), -int(rng() % 30) - 10);
    for (float& s : f32_scales) s = std::ldexp(float(rng() % (1 << 24)), -int(rng() % 40) - 20);
    for (float& c : codebook) c = std::ldexp(float(rng() % (1 << 24)), int(rng() % 60) - 60);
    for (uint8_t& k : scale_index) k = static_cast<uint8_t>(rng());
  }
  EmbeddingTable table(schema::DType dtype, size_t rows, size_t dim) const {
    const void* data = dtype == schema::DType::INT8 || dtype == schema::DType::INT8_ROW_F16 ? codes.data()
                       : dtype == schema::DType::UINT4_ROW_F16 || dtype == schema::DType::UINT4_ROW_CODEBOOK
                           ? static_cast<const void*>(nibbles.data())
                       : dtype == schema::DType::FLOAT16 ? static_cast<const void*>(halves.data())
                                                         : static_cast<const void*>(floats.data());
    EmbeddingTable t{data, static_cast<int64_t>(rows), static_cast<int64_t>(dim), dtype, f32_scales.data(),
                     params.data()};
    t.codebook = codebook.data();
    t.scale_index = scale_index.data();
    return t;
  }
};

constexpr schema::DType kLookupDtypes[] = {schema::DType::FLOAT32, schema::DType::FLOAT16,
                                           schema::DType::INT8, schema::DType::INT8_ROW_F16,
                                           schema::DType::UINT4_ROW_F16, schema::DType::UINT4_ROW_CODEBOOK};

// BAG as its contract says, one element at a time in f32 from the portable rows:
// 0 + v0 + v1 + ... (w · v with weights; / length for kMean), or the first value then each larger one.
// `fused`: sum + w · v in one rounding (std::fma), as GCC contracts the loop through memory on arm64.
std::vector<float> naive_bag(const EmbeddingTable& table, BagMode mode, const std::vector<int64_t>& ids,
                             size_t id_rows, const float* weights, size_t weight_rows, size_t rows, size_t length,
                             int64_t default_row, bool fused = false) {
  const size_t dim = static_cast<size_t>(table.dim);
  std::vector<float> out(rows * dim), values(dim);
  for (size_t r = 0; r < rows; ++r)
    for (size_t j = 0; j < length; ++j) {
      int64_t id = ids[(id_rows == 1 ? 0 : r) * length + j];
      if (id < 0 || id >= table.rows) id = default_row;
      dequantize_row(table, static_cast<size_t>(id), 0, dim, values.data(), LookupIsa::kPortable);
      const float w = weights ? weights[(weight_rows == 1 ? 0 : r) * length + j] : 1.0f;
      for (size_t d = 0; d < dim; ++d) {
        float& sum = out[r * dim + d];
        if (mode == BagMode::kMax) {
          sum = j == 0 || values[d] > sum ? values[d] : sum;
        } else if (fused && weights) {
          sum = std::fma(w, values[d], sum);
        } else {
          volatile float product = weights ? w * values[d] : values[d];  // rounded alone, as the kernel does
          sum = sum + product;
        }
      }
    }
  if (mode == BagMode::kMean)
    for (float& v : out) v /= static_cast<float>(length);
  return out;
}

TEST_CASE("bags of every encoding give the naive loop's bits (sums in registers, prefetching over large tables)") {
  std::mt19937 rng(1616);
  // 300 rows: no prefetch; 70,000 x 16 (and wider): 1.1 MB and more of rows in every encoding, prefetched.
  struct Size {
    size_t rows, dim;
  };
  for (const Size size : {Size{300, 1}, Size{300, 3}, Size{300, 7}, Size{300, 8}, Size{300, 9}, Size{300, 15},
                          Size{300, 16}, Size{300, 17}, Size{300, 24}, Size{300, 31}, Size{300, 32}, Size{300, 33},
                          Size{300, 40}, Size{300, 48}, Size{300, 63}, Size{300, 64}, Size{300, 65}, Size{300, 72},
                          Size{300, 131}, Size{70000, 16}, Size{70000, 33}}) {
    CAPTURE(size.rows);
    CAPTURE(size.dim);
    const EncodedTables tables(size.rows, size.dim, rng);
    const size_t rows = 7, length = 37;
    std::vector<int64_t> ids(rows * length);
    for (int64_t& id : ids) id = static_cast<int64_t>(rng() % size.rows);
    ids[5] = -3;  // out of range: the default row (or an error)
    ids[3 * length + 30] = static_cast<int64_t>(size.rows);
    std::vector<float> weights(rows * length);
    for (float& w : weights) w = std::ldexp(float(int(rng() % 2001) - 1000), -7);
    for (const schema::DType dtype : kLookupDtypes) {
      CAPTURE(static_cast<int>(dtype));
      const EmbeddingTable table = tables.table(dtype, size.rows, size.dim);
      for (int mode = 0; mode < 3; ++mode) {
        CAPTURE(mode);
        for (const bool weighted : {false, true}) {
          if (weighted && mode != 0) continue;
          for (const size_t id_rows : {rows, size_t{1}}) {
            CAPTURE(weighted);
            CAPTURE(id_rows);
            const float* w = weighted ? weights.data() : nullptr;
            const int64_t default_row = static_cast<int64_t>(size.rows / 2);
            std::vector<float> got(rows * size.dim, 1234.5f);
            REQUIRE(embedding_bag(table, static_cast<BagMode>(mode), ids.data(), id_rows, w, rows, rows, length,
                                  default_row, "feature 'f'", got.data())
                        .is_ok());
            const std::vector<float> want =
                naive_bag(table, static_cast<BagMode>(mode), ids, id_rows, w, rows, rows, length, default_row);
            size_t mismatches = 0;
            for (size_t i = 0; i < got.size(); ++i) mismatches += bits_of(got[i]) != bits_of(want[i]);
#if !defined(__x86_64__)
            // Off x86-64 (no vector path for BAG) the compiler may fuse the weighted loop's
            // multiply and add (GCC on arm64, as before this test): either result is the loop's.
            if (mismatches != 0 && weighted) {
              const std::vector<float> fused = naive_bag(table, static_cast<BagMode>(mode), ids, id_rows, w, rows,
                                                         rows, length, default_row, true);
              mismatches = 0;
              for (size_t i = 0; i < got.size(); ++i) mismatches += bits_of(got[i]) != bits_of(fused[i]);
            }
#endif
            CHECK(mismatches == 0);
          }
        }
      }
      // Without a default row the first bad id fails, named as before.
      std::vector<float> out(rows * size.dim);
      const Status status =
          embedding_bag(table, BagMode::kSum, ids.data(), rows, nullptr, 1, rows, length, -1, "feature 'f'", out.data());
      CHECK(status.code() == Error::kIdOutOfRange);
      CHECK(std::string(status.message()).find("feature 'f': id -3 at row 0 (position 5)") != std::string::npos);
    }
  }
}

TEST_CASE("single and merged lookups over a large table (prefetched) read the portable rows; bad ids as before") {
  std::mt19937 rng(1617);
  const size_t table_rows = 70000, dim = 16;
  const EncodedTables tables(table_rows, dim, rng);
  std::vector<int64_t> ids(500);
  for (int64_t& id : ids) id = static_cast<int64_t>(rng() % table_rows);
  ids[40] = -1;
  ids[41] = static_cast<int64_t>(table_rows) + 5;
  for (const schema::DType dtype : kLookupDtypes) {
    CAPTURE(static_cast<int>(dtype));
    const EmbeddingTable table = tables.table(dtype, table_rows, dim);
    auto want_row = [&](int64_t id, size_t offset, int64_t count, int64_t default_row) {
      std::vector<float> row(dim);
      if (id < 0 || id >= count) id = default_row;
      dequantize_row(table, offset + static_cast<size_t>(id), 0, dim, row.data(), LookupIsa::kPortable);
      return row;
    };
    std::vector<float> out(ids.size() * dim);
    REQUIRE(embedding_lookup(table, ids.data(), ids.size(), 10, 7, "feature 'f'", out.data()).is_ok());
    size_t mismatches = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
      const std::vector<float> row = want_row(ids[i], 0, static_cast<int64_t>(table_rows), 7);
      for (size_t d = 0; d < dim; ++d) mismatches += bits_of(out[i * dim + d]) != bits_of(row[d]);
    }
    CHECK(mismatches == 0);
    Status status = embedding_lookup(table, ids.data(), ids.size(), 10, -1, "feature 'f'", out.data());
    CHECK(status.code() == Error::kIdOutOfRange);
    CHECK(std::string(status.message()).find("feature 'f': id -1 at row 4 (position 0)") != std::string::npos);

    // Two inputs over rows 0 .. 39,999 and 40,000 .. 69,999; the second broadcast from one row.
    const int64_t offsets[2] = {0, 40000}, counts[2] = {40000, 30000}, defaults[2] = {3, 4};
    std::vector<int64_t> second = {29999};
    for (int64_t& id : ids) id = id >= 0 && id < 40000 ? id : (id % 40000 + 40000) % 40000;
    ids[100] = 40000;  // out of the first input's rows
    const int64_t* inputs[2] = {ids.data(), second.data()};
    const size_t id_rows[2] = {ids.size(), 1};
    const char* whats[2] = {"feature 'a'", "feature 'b'"};
    std::vector<float> merged(ids.size() * 2 * dim);
    REQUIRE(embedding_multi_lookup(table, 2, inputs, id_rows, ids.size(), offsets, counts, defaults, whats,
                                   merged.data())
                .is_ok());
    mismatches = 0;
    for (size_t i = 0; i < ids.size(); ++i)
      for (size_t j = 0; j < 2; ++j) {
        const std::vector<float> row = want_row(j == 0 ? ids[i] : second[0], size_t(offsets[j]), counts[j], defaults[j]);
        for (size_t d = 0; d < dim; ++d) mismatches += bits_of(merged[(i * 2 + j) * dim + d]) != bits_of(row[d]);
      }
    CHECK(mismatches == 0);
    const int64_t no_default[2] = {-1, -1};
    status = embedding_multi_lookup(table, 2, inputs, id_rows, ids.size(), offsets, counts, no_default, whats,
                                    merged.data());
    CHECK(status.code() == Error::kIdOutOfRange);
    CHECK(std::string(status.message()).find("feature 'a': id 40000 at row 100 (position 0) is outside [0, 40000)") !=
          std::string::npos);
    for (int64_t& id : ids) id = static_cast<int64_t>(rng() % table_rows);
    ids[40] = -1;
    ids[41] = static_cast<int64_t>(table_rows) + 5;
  }
}

}  // namespace
}  // namespace edgemtl

namespace edgemtl {
namespace {

// Not a check: the measurement behind the per-channel choice (docs/QUANTIZATION.md).
// Run with: edgemtl_runtime_tests -tc="int8 fully connected benchmark*" --no-skip
TEST_CASE("int8 fully connected benchmark: per channel (qc8 1x1 convolution) vs per tensor (qs8 FC) vs f32" *
          doctest::skip()) {
  struct Shape {
    size_t rows, k, n;
  };
  for (const Shape shape : {Shape{500, 171, 528}, Shape{500, 64, 32}, Shape{500, 512, 256}}) {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    std::vector<float> x(shape.rows * shape.k), w(shape.n * shape.k), y(shape.rows * shape.n);
    for (float& v : x) v = uniform(rng);
    for (float& v : w) v = uniform(rng);
    std::vector<int8_t> wq(w.size());
    for (size_t i = 0; i < w.size(); ++i) wq[i] = static_cast<int8_t>(std::lround(127 * w[i]));
    std::vector<int32_t> bias(shape.n, 0);
    std::vector<float> channel_scales(shape.n, 1.0f / 127), tensor_scale(1, 1.0f / 127);
    const QuantParams in{2.0f / 255, 0}, out{std::sqrt(float(shape.k)) * 2.0f / 255, 0};
    QuantizedFullyConnected per_channel, per_tensor;
    REQUIRE(per_channel.create(shape.k, shape.k, shape.n, wq.data(), channel_scales.data(), true, bias.data(), in, out,
                               schema::Activation::RELU, 0, shape.rows).is_ok());
    REQUIRE(per_tensor.create(shape.k, shape.k, shape.n, wq.data(), tensor_scale.data(), false, bias.data(), in, out,
                              schema::Activation::RELU, 0, shape.rows).is_ok());
    FullyConnected f32;
    REQUIRE(f32.create(shape.k, shape.k, shape.n, w.data(), nullptr, schema::Activation::RELU, 0).is_ok());
    std::vector<int8_t> scratch(per_channel.scratch_bytes());
    std::vector<double> times[3];
    for (int round = 0; round < 15; ++round) {  // interleaved, so that machine load hits all three alike
      for (int which = 0; which < 3; ++which) {
        const auto start = std::chrono::steady_clock::now();
        for (int rep = 0; rep < 20; ++rep) {
          if (which == 0) REQUIRE(per_channel.run(x.data(), shape.rows, y.data(), scratch.data(), {}).is_ok());
          if (which == 1) REQUIRE(per_tensor.run(x.data(), shape.rows, y.data(), scratch.data(), {}).is_ok());
          if (which == 2) REQUIRE(f32.run(x.data(), shape.rows, y.data(), {}).is_ok());
        }
        times[which].push_back(
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / 20);
      }
    }
    for (auto& t : times) std::sort(t.begin(), t.end());
    std::printf("[%zu x %zu] x [%zu x %zu]: median us per call: int8 per channel %.1f, int8 per tensor %.1f, f32 %.1f\n",
                shape.rows, shape.k, shape.k, shape.n, times[0][7], times[1][7], times[2][7]);
  }
}

}  // namespace
}  // namespace edgemtl

namespace edgemtl {
namespace {

TEST_CASE("int8 fully connected: scales XNNPACK cannot requantise are Unsupported, not a crash") {
  const int8_t w[2] = {1, 1};
  const float huge_weight_scale[1] = {1e6f};
  // On both paths (the VNNI kernel could compute them, but a file must run on every CPU or on none).
  for (bool allow_vnni : {true, false}) {
    CAPTURE(allow_vnni);
    for (bool per_channel : {true, false}) {
      QuantizedFullyConnected fc;
      CHECK(fc.create(2, 2, 1, w, huge_weight_scale, per_channel, nullptr, QuantParams{1.0f, 0}, QuantParams{1e-6f, 0},
                      schema::Activation::NONE, 0.0f, 4, allow_vnni).code() == Error::kUnsupported);
      // Below 2^-32 XNNPACK asserts (aborts the process): refused before it is asked.
      CHECK(fc.create(2, 2, 1, w, huge_weight_scale, per_channel, nullptr, QuantParams{1e-20f, 0}, QuantParams{1.0f, 0},
                      schema::Activation::NONE, 0.0f, 4, allow_vnni).code() == Error::kUnsupported);
    }
  }
}

}  // namespace
}  // namespace edgemtl

namespace edgemtl {
namespace {

struct VnniCase {
  size_t rows, k, n, stride;  // stride > k: x is a window (columns 3..3+k) of wider rows
  bool per_channel, with_bias;
  schema::Activation activation;
  QuantParams in, out;
  float x_range;  // > the input range: some x saturate at -128 / 127
  bool extremes = false;  // a few x of +-1e12 and +-infinity (beyond int32 once divided by s_in)
};

// Runs one case on the VNNI kernel, checks it against the schema's formula
// and against the XNNPACK path (both within one step of s_out), and that a
// pool of 3 threads gives the same bits as one thread.
void check_vnni_case(const VnniCase& t, uint32_t seed) {
  CAPTURE(t.rows);
  CAPTURE(t.k);
  CAPTURE(t.n);
  CAPTURE(t.stride);
  CAPTURE(t.per_channel);
  CAPTURE(t.with_bias);
  CAPTURE(static_cast<int>(t.activation));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  const size_t offset = t.stride > t.k ? 3 : 0;
  std::vector<float> wide(t.rows * t.stride), x(t.rows * t.k);
  for (float& v : wide) v = t.x_range * uniform(rng);
  if (t.extremes) {
    const float extreme[] = {1e12f, -1e12f, INFINITY, -INFINITY};
    for (size_t r = 0; r < t.rows; ++r) wide[r * t.stride + offset + (r * 5) % t.k] = extreme[r % 4];
  }
  for (size_t r = 0; r < t.rows; ++r)
    for (size_t i = 0; i < t.k; ++i) x[r * t.k + i] = wide[r * t.stride + offset + i];
  std::vector<int8_t> w(t.n * t.k);
  for (int8_t& v : w) v = static_cast<int8_t>(std::lround(127 * uniform(rng)));
  std::vector<int32_t> bias(t.n, 0);
  if (t.with_bias)
    for (int32_t& v : bias) v = static_cast<int32_t>(std::lround(20000 * uniform(rng)));
  std::vector<float> scales(t.per_channel ? t.n : 1);
  for (float& s : scales) s = (1.5f + uniform(rng)) / 127.0f;
  const bool relu = t.activation == schema::Activation::RELU;
  const std::vector<float> want = reference_int8_fc(x, t.rows, t.k, t.n, w, scales, bias, t.in, t.out, relu);

  QuantizedFullyConnected vnni, xnnpack;
  REQUIRE(vnni.create(t.k, t.stride, t.n, w.data(), scales.data(), t.per_channel, t.with_bias ? bias.data() : nullptr,
                      t.in, t.out, t.activation, 0.01f, t.rows + 5).is_ok());
  REQUIRE(vnni.uses_vnni());
  REQUIRE(xnnpack.create(t.k, t.stride, t.n, w.data(), scales.data(), t.per_channel,
                         t.with_bias ? bias.data() : nullptr, t.in, t.out, t.activation, 0.01f, t.rows + 5, false)
              .is_ok());
  REQUIRE(!xnnpack.uses_vnni());
  std::vector<int8_t> scratch(std::max(vnni.scratch_bytes(), xnnpack.scratch_bytes()), 77);
  std::vector<float> y(t.rows * t.n + 1, 42.0f), y_xnnpack(t.rows * t.n), y_threads(t.rows * t.n + 1, 42.0f);
  REQUIRE(vnni.run(wide.data() + offset, t.rows, y.data(), scratch.data(), {}).is_ok());
  REQUIRE(xnnpack.run(wide.data() + offset, t.rows, y_xnnpack.data(), scratch.data(), {}).is_ok());
  Result<std::unique_ptr<ThreadPool>> pool = ThreadPool::create(3, kSplitAnything);  // split however small
  REQUIRE(pool.ok());
  KernelThreads threads;
  threads.pool = pool->get();
  REQUIRE(vnni.run(wide.data() + offset, t.rows, y_threads.data(), scratch.data(), threads).is_ok());
  CHECK(y.back() == 42.0f);  // nothing written past rows x n
  CHECK(std::memcmp(y.data(), y_threads.data(), y.size() * sizeof(float)) == 0);
  if (t.activation != schema::Activation::SIGMOID) {  // the kernel alone: uneven row ranges give the same bits
    Int8GemmVnni gemm;
    REQUIRE(gemm.create(t.k, t.n, w.data(), scales.data(), t.per_channel, t.with_bias ? bias.data() : nullptr,
                        t.in.scale, t.in.zero_point, t.out.scale, t.out.zero_point,
                        relu ? t.out.zero_point : int8_t{-128}, t.rows + 5).is_ok());
    std::vector<float> y_ranges(t.rows * t.n + 1, 42.0f);
    for (size_t begin = 0; begin < t.rows;) {
      const size_t end = std::min(t.rows, begin + 1 + (begin * 7 + 3) % 11);  // ranges of 1 .. 11 rows
      gemm.run_rows(wide.data() + offset, t.stride, begin, end, y_ranges.data(),
                    reinterpret_cast<uint8_t*>(scratch.data()));
      begin = end;
    }
    CHECK(std::memcmp(y.data(), y_ranges.data(), y.size() * sizeof(float)) == 0);
  }
  const bool sigmoid = t.activation == schema::Activation::SIGMOID;
  const float step = (sigmoid ? t.out.scale / 4 : t.out.scale) * 1.001f;
  size_t off_by_one = 0, bad = 0, bad_xnnpack = 0;
  for (size_t i = 0; i < t.rows * t.n; ++i) {
    const float expected = sigmoid ? 1.0f / (1.0f + std::exp(-want[i])) : want[i];
    if (std::fabs(y[i] - expected) > step) ++bad;
    if (y[i] != expected) ++off_by_one;
    if (std::fabs(y[i] - y_xnnpack[i]) > step) ++bad_xnnpack;
  }
  CHECK(bad == 0);
  CHECK(bad_xnnpack == 0);
  if (!sigmoid) CHECK(off_by_one <= t.rows * t.n / 50 + 1);  // f32 requantisation: rare ties only
  size_t high = 0, low = 0;
  for (size_t i = 0; i < t.rows * t.n; ++i) {
    if (std::fabs(want[i] - t.out.scale * (127 - t.out.zero_point)) < 1e-6f) ++high;
    if (std::fabs(want[i] - t.out.scale * ((relu ? t.out.zero_point : -128) - t.out.zero_point)) < 1e-6f) ++low;
  }
  if (t.x_range > 1.0f)
    CHECK((high > 0 && low > 0));  // the saturating cases reach both ends
  else
    CHECK(high + low < t.rows * t.n * 6 / 10);  // the others exercise real values (RELU clamps about half)
}

TEST_CASE("int8 fully connected, AVX-512 VNNI kernel: the schema's formula for every shape remainder") {
  if (!Int8GemmVnni::available()) {
    MESSAGE("this CPU has no AVX-512 VNNI: VNNI kernel cases skipped");
    return;
  }
  using schema::Activation;
  const QuantParams in{2.6f / 255.0f, -13}, in_zero{2.0f / 255.0f, 0}, in_high{1.0f / 255.0f, 100};
  const QuantParams out{0.9f / 255.0f * 40.0f, 5}, out_neg{0.05f, -100}, out_small{0.002f, 20};
  const VnniCase cases[] = {
      // rows: 1, 3, 8, 9, 17 (row blocks of 8); k: multiple of 4 or not; n: 32-column panels, a last one of 16 or 32
      {1, 21, 6, 21, true, true, Activation::NONE, in, out, 1.0f},
      {3, 4, 1, 4, false, true, Activation::RELU, in, out, 1.0f},
      {8, 64, 32, 64, true, true, Activation::RELU, in, out, 1.0f},
      {9, 67, 33, 67, true, false, Activation::NONE, in_zero, out, 1.0f},
      {17, 130, 50, 130, false, true, Activation::SIGMOID, in, out, 1.0f},
      {17, 256, 128, 256, true, true, Activation::RELU, in_high, out_neg, 1.0f},
      {13, 114, 100, 150, true, true, Activation::NONE, in, out, 1.0f},        // strided window
      {5, 7, 48, 19, false, false, Activation::RELU, in_zero, out_neg, 1.0f},  // strided, no bias
      {23, 45, 70, 45, true, true, Activation::NONE, in, out_small, 4.0f},    // x and y saturate
      {40, 33, 17, 40, true, true, Activation::RELU, in_high, out_small, 3.0f},
      // x quantised 64 floats at a time, then a masked rest: k 63 (padded to 64), 200, 129; rows 2, 6, 12, 14
      // (remainders of the row block); the extremes take the conversion's overflow path
      {2, 63, 64, 63, true, true, Activation::NONE, in, out, 1.0f, true},
      {6, 200, 96, 211, true, true, Activation::RELU, in_high, out_small, 4.0f, true},
      {12, 129, 80, 129, false, true, Activation::NONE, in_zero, out_neg, 1.0f},
      {14, 128, 112, 128, true, false, Activation::RELU, in, out, 1.0f, true},
  };
  uint32_t seed = 100;
  for (const VnniCase& t : cases) check_vnni_case(t, seed++);
}

}  // namespace
}  // namespace edgemtl

namespace edgemtl {
namespace {

// FULLY_CONNECTED's addend on the VNNI kernel (added while x is quantised):
// the same bits as the kernel on x + addend staged by a naive loop, and within
// one output step of the schema's formula on it; x a window of wider rows, the
// addend one row for all or a row per row, no activation, RELU or LEAKY_RELU.
TEST_CASE("int8 fully connected, AVX-512 VNNI kernel: an input addend gives the staged sum's bits") {
  if (!Int8GemmVnni::available()) {
    MESSAGE("this CPU has no AVX-512 VNNI: VNNI kernel cases skipped");
    return;
  }
  const QuantParams in{3.0f / 255.0f, -20}, out{0.04f, 3};
  struct Case {
    size_t rows, k, n, stride, addend_width, addend_offset;
    bool broadcast;
    schema::Activation activation;
    float alpha;
  };
  using Act = schema::Activation;
  const Case cases[] = {{1, 21, 6, 21, 21, 0, true, Act::RELU, 0.0f},
                        {9, 67, 33, 80, 100, 13, false, Act::RELU, 0.0f},
                        {17, 130, 50, 130, 300, 170, true, Act::NONE, 0.0f},
                        {13, 256, 128, 2048, 2048, 768, true, Act::RELU, 0.0f},
                        {6, 63, 40, 63, 63, 0, false, Act::NONE, 0.0f},
                        {11, 256, 64, 2048, 2048, 512, true, Act::LEAKY_RELU, 0.1f},
                        {5, 37, 20, 50, 60, 7, false, Act::LEAKY_RELU, 0.3f}};
  uint32_t seed = 500;
  for (const Case& t : cases) {
    CAPTURE(t.rows);
    CAPTURE(t.k);
    CAPTURE(t.broadcast);
    CAPTURE(static_cast<int>(t.activation));
    std::mt19937 rng(seed++);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    std::vector<float> wide(t.rows * t.stride), addend((t.broadcast ? 1 : t.rows) * t.addend_width);
    for (float& v : wide) v = uniform(rng);
    for (float& v : addend) v = uniform(rng);
    const size_t addend_stride = t.broadcast ? 0 : t.addend_width;
    std::vector<float> staged(t.rows * t.k);
    for (size_t r = 0; r < t.rows; ++r)
      for (size_t i = 0; i < t.k; ++i) {
        const float sum = wide[r * t.stride + i] + addend[r * addend_stride + t.addend_offset + i];
        staged[r * t.k + i] = t.activation == Act::RELU        ? std::max(sum, 0.0f)
                              : t.activation == Act::LEAKY_RELU ? (sum >= 0.0f ? sum : t.alpha * sum)
                                                                : sum;
      }
    std::vector<int8_t> w(t.n * t.k);
    for (int8_t& v : w) v = static_cast<int8_t>(std::lround(127 * uniform(rng)));
    std::vector<int32_t> bias(t.n);
    for (int32_t& v : bias) v = static_cast<int32_t>(std::lround(2000 * uniform(rng)));
    std::vector<float> scales(t.n);
    for (float& s : scales) s = (1.5f + uniform(rng)) / 127.0f;
    QuantizedFullyConnected window, dense;
    REQUIRE(window.create(t.k, t.stride, t.n, w.data(), scales.data(), true, bias.data(), in, out,
                          schema::Activation::RELU, 0.01f, t.rows).is_ok());
    REQUIRE(dense.create(t.k, t.k, t.n, w.data(), scales.data(), true, bias.data(), in, out, schema::Activation::RELU,
                         0.01f, t.rows).is_ok());
    REQUIRE(QuantizedFullyConnected::fuses_input_addend(false, true));
    std::vector<int8_t> scratch(window.scratch_bytes());
    std::vector<float> y(t.rows * t.n), want(t.rows * t.n);
    const InputAddend a{addend.data() + t.addend_offset, addend_stride, t.activation, t.alpha};
    REQUIRE(window.run(wide.data(), t.rows, y.data(), scratch.data(), {}, a).is_ok());
    REQUIRE(dense.run(staged.data(), t.rows, want.data(), scratch.data(), {}).is_ok());
    CHECK(std::memcmp(y.data(), want.data(), y.size() * sizeof(float)) == 0);
    const std::vector<float> formula = reference_int8_fc(staged, t.rows, t.k, t.n, w, scales, bias, in, out, true);
    size_t bad = 0;
    for (size_t i = 0; i < y.size(); ++i) bad += std::fabs(y[i] - formula[i]) > out.scale * 1.001f;
    CHECK(bad == 0);
  }
}

}  // namespace
}  // namespace edgemtl

namespace edgemtl {
namespace {

// Layers of at most 4 outputs run 16 rows at a time with x transposed in
// registers (int8_gemm_vnni.cc, narrow_rows): bitwise the panel tiles. The
// reference is the same weights as the first columns of a 17-column layer
// (panel tiles), static and dynamic int8, row counts around 16, k groups
// around the transpose's 16.
TEST_CASE("int8 VNNI kernel: layers of 1-4 outputs give the panel tiles' bits") {
  if (!Int8GemmVnni::available()) {
    MESSAGE("this CPU has no AVX-512 VNNI: VNNI kernel cases skipped");
    return;
  }
  std::mt19937 random(2024);
  std::uniform_real_distribution<float> uniform(-1.5f, 1.5f);
  std::uniform_int_distribution<int> code(-127, 127);
  constexpr size_t kWide = 17;
  for (size_t n = 1; n <= 4; ++n)
    for (size_t k : {5u, 21u, 64u, 130u})
      for (size_t rows : {1u, 15u, 16u, 37u})
        for (bool dynamic : {false, true}) {
          CAPTURE(n);
          CAPTURE(k);
          CAPTURE(rows);
          CAPTURE(dynamic);
          std::vector<float> x(rows * k), scales(kWide), float_bias(kWide);
          std::vector<int8_t> w(kWide * k);
          std::vector<int32_t> bias(kWide);
          for (float& v : x) v = uniform(random);
          for (int8_t& v : w) v = static_cast<int8_t>(code(random));
          for (size_t c = 0; c < kWide; ++c) {
            scales[c] = 0.002f + 0.001f * static_cast<float>(c % 5);
            bias[c] = code(random) * 40;
            float_bias[c] = uniform(random);
          }
          Int8GemmVnni narrow, wide;
          if (dynamic) {
            REQUIRE(narrow.create_dynamic(k, n, w.data(), scales.data(), true, float_bias.data(), rows).is_ok());
            REQUIRE(wide.create_dynamic(k, kWide, w.data(), scales.data(), true, float_bias.data(), rows).is_ok());
          } else {
            REQUIRE(narrow.create(k, n, w.data(), scales.data(), true, bias.data(), 1.5f / 127, -3, 0.02f, 4, -128, rows)
                        .is_ok());
            REQUIRE(wide.create(k, kWide, w.data(), scales.data(), true, bias.data(), 1.5f / 127, -3, 0.02f, 4, -128,
                                rows).is_ok());
          }
          std::vector<uint8_t> scratch(std::max(narrow.scratch_bytes(), wide.scratch_bytes()));
          std::vector<float> y(rows * n + 1, 42.0f), y_wide(rows * kWide);
          narrow.run(x.data(), rows, k, y.data(), scratch.data(), nullptr);
          wide.run(x.data(), rows, k, y_wide.data(), scratch.data(), nullptr);
          CHECK(y.back() == 42.0f);  // nothing written past rows x n
          size_t differ = 0;
          for (size_t r = 0; r < rows; ++r)
            differ += std::memcmp(&y[r * n], &y_wide[r * kWide], n * sizeof(float)) != 0;
          CHECK(differ == 0);
        }
}

}  // namespace
}  // namespace edgemtl
