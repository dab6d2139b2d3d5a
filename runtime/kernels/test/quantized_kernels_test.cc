// Quantised kernels against naive loops written from the schema's formulas:
// the INT8 fully-connected layer (per channel and per tensor), INT8 and
// FLOAT16 embedding tables, and half -> float.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "runtime/kernels/embedding.h"
#include "runtime/kernels/fully_connected.h"
#include "runtime/kernels/half.h"
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
      REQUIRE(fc.run(x.data(), rows, y.data(), scratch.data(), nullptr).is_ok());
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
      CHECK(fc.run(x.data(), rows + 1, y.data(), scratch.data(), nullptr).code() == Error::kInternal);
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
  REQUIRE(fc.run(wide.data() + first_column, rows, y.data(), scratch.data(), nullptr).is_ok());
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
          if (which == 0) REQUIRE(per_channel.run(x.data(), shape.rows, y.data(), scratch.data(), nullptr).is_ok());
          if (which == 1) REQUIRE(per_tensor.run(x.data(), shape.rows, y.data(), scratch.data(), nullptr).is_ok());
          if (which == 2) REQUIRE(f32.run(x.data(), shape.rows, y.data(), nullptr).is_ok());
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
  QuantizedFullyConnected fc;
  const Status status = fc.create(2, 2, 1, w, huge_weight_scale, false, nullptr, QuantParams{1.0f, 0},
                                  QuantParams{1e-6f, 0}, schema::Activation::NONE, 0.0f, 4);
  CHECK(status.code() == Error::kUnsupported);
}

}  // namespace
}  // namespace edgemtl
