// Dynamic int8 FULLY_CONNECTED (FullyConnectedOptions.input_mode DYNAMIC_ROW)
// against a naive loop written here from the schema's formula, on every kernel
// path this CPU offers (AVX-512 VNNI when present, the portable loop always).
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "runtime/kernels/int8_gemm_vnni.h"
#include "runtime/kernels/quantized_fully_connected.h"

namespace edgemtl {
namespace {

// The schema's formula: per row lo/hi including 0, s = (hi - lo) / 255 (1 if 0),
// z = clamp(round(-lo / s), 0, 255), xq = clamp(round(x / s) + z, 0, 255) in f32;
// acc in int64 (no overflow here, as int32 would); y = acc * s * s_w + bias in
// double. `magnitude` receives |acc * s * s_w| + |bias|, the scale of the rounding error.
void reference_dynamic_fc(const std::vector<float>& x, size_t rows, size_t k, size_t n, const std::vector<int8_t>& w,
                          const std::vector<float>& w_scales, const std::vector<float>& bias,
                          std::vector<double>* y, std::vector<double>* magnitude) {
  y->assign(rows * n, 0.0);
  magnitude->assign(rows * n, 0.0);
  for (size_t r = 0; r < rows; ++r) {
    float lo = 0.0f, hi = 0.0f;
    for (size_t i = 0; i < k; ++i) {
      lo = std::min(lo, x[r * k + i]);
      hi = std::max(hi, x[r * k + i]);
    }
    float s = (hi - lo) / 255.0f;
    if (s == 0.0f) s = 1.0f;
    const float z = std::min(255.0f, std::max(0.0f, std::nearbyint(-lo / s)));
    std::vector<int> xq(k);
    for (size_t i = 0; i < k; ++i) xq[i] = static_cast<int>(std::min(255.0f, std::max(0.0f, std::nearbyint(x[r * k + i] / s) + z)));
    for (size_t c = 0; c < n; ++c) {
      int64_t acc = 0;
      for (size_t i = 0; i < k; ++i) acc += static_cast<int64_t>(xq[i] - static_cast<int>(z)) * w[c * k + i];
      const double scale = double(s) * (w_scales.size() == 1 ? w_scales[0] : w_scales[c]);
      const double b = bias.empty() ? 0.0 : bias[c];
      (*y)[r * n + c] = double(acc) * scale + b;
      (*magnitude)[r * n + c] = std::fabs(double(acc) * scale) + std::fabs(b);
    }
  }
}

enum class Rows { kUniform, kOutliers, kSpecial };

struct DynamicCase {
  size_t rows, k, n, stride;
  bool per_channel, with_bias;
  schema::Activation activation;
  Rows kind;
};

void check_dynamic_case(const DynamicCase& t, uint32_t seed) {
  CAPTURE(t.rows);
  CAPTURE(t.k);
  CAPTURE(t.n);
  CAPTURE(t.stride);
  CAPTURE(static_cast<int>(t.kind));
  CAPTURE(static_cast<int>(t.activation));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  const size_t offset = t.stride > t.k ? 2 : 0;
  std::vector<float> wide(t.rows * t.stride), x(t.rows * t.k);
  for (float& v : wide) v = uniform(rng);
  for (size_t r = 0; r < t.rows; ++r) {
    float* row = wide.data() + r * t.stride + offset;
    if (t.kind == Rows::kOutliers && r % 2 == 0) row[(r * 7) % t.k] = (r % 4 == 0 ? 1.0f : -1.0f) * 1e4f;
    if (t.kind == Rows::kSpecial) {
      switch (r % 5) {
        case 0: std::fill(row, row + t.k, 0.0f); break;      // all zero
        case 1: std::fill(row, row + t.k, 0.37f); break;     // constant positive
        case 2: std::fill(row, row + t.k, -2.5f); break;     // constant negative
        case 3: for (size_t i = 0; i < t.k; ++i) row[i] = std::fabs(row[i]); break;  // after a RELU
        default: for (size_t i = 0; i < t.k; ++i) row[i] = -std::fabs(row[i]) * 1e-30f; break;  // tiny, negative
      }
    }
    for (size_t i = 0; i < t.k; ++i) x[r * t.k + i] = row[i];
  }
  std::vector<int8_t> w(t.n * t.k);
  for (int8_t& v : w) v = static_cast<int8_t>(std::lround(127 * uniform(rng)));
  std::vector<float> bias;
  if (t.with_bias)
    for (size_t c = 0; c < t.n; ++c) bias.push_back(3.0f * uniform(rng));
  std::vector<float> scales(t.per_channel ? t.n : 1);
  for (float& s : scales) s = (1.5f + uniform(rng)) / 127.0f;
  std::vector<double> want, magnitude;
  reference_dynamic_fc(x, t.rows, t.k, t.n, w, scales, bias, &want, &magnitude);
  for (size_t i = 0; i < want.size(); ++i) {
    if (t.activation == schema::Activation::RELU) want[i] = std::max(0.0, want[i]);
    if (t.activation == schema::Activation::SIGMOID) want[i] = 1.0 / (1.0 + std::exp(-want[i]));
  }

  std::vector<bool> paths{false};  // the portable loop
  if (Int8GemmVnni::available()) paths.push_back(true);
  else MESSAGE("this CPU has no AVX-512 VNNI: the portable path only");
  std::vector<std::vector<float>> results;
  for (bool vnni : paths) {
    CAPTURE(vnni);
    QuantizedFullyConnected fc;
    REQUIRE(fc.create_dynamic(t.k, t.stride, t.n, w.data(), scales.data(), t.per_channel,
                              t.with_bias ? bias.data() : nullptr, t.activation, 0.01f, t.rows + 3, vnni)
                .is_ok());
    REQUIRE(fc.uses_vnni() == vnni);
    REQUIRE(fc.is_dynamic());
    std::vector<int8_t> scratch(fc.scratch_bytes(), 77);
    std::vector<float> y(t.rows * t.n + 1, 42.0f), y_threads(t.rows * t.n + 1, -42.0f);
    REQUIRE(fc.run(wide.data() + offset, t.rows, y.data(), scratch.data(), {}).is_ok());
    // Split into row ranges however small (a minimum task of 1 multiply-add).
    Result<std::unique_ptr<ThreadPool>> pool = ThreadPool::create(3, kSplitAnything);
    REQUIRE(pool.ok());
    KernelThreads threads;
    threads.pool = pool->get();
    REQUIRE(fc.run(wide.data() + offset, t.rows, y_threads.data(), scratch.data(), threads).is_ok());
    CHECK(y.back() == 42.0f);  // nothing written past rows x n
    y_threads.back() = 42.0f;
    CHECK(std::memcmp(y.data(), y_threads.data(), y.size() * sizeof(float)) == 0);  // any thread count, bitwise
    size_t bad = 0;
    for (size_t i = 0; i < t.rows * t.n; ++i) {
      // f32 rounding of float(acc), the product and the sum (a few ulps of the terms); one step
      // of a quantised x would cost |w| * s * s_w, far more.
      const double tolerance = 1e-6 * magnitude[i] + 1e-30;
      if (!(std::fabs(y[i] - want[i]) <= tolerance)) ++bad;
    }
    CHECK(bad == 0);
    y.pop_back();
    results.push_back(y);
  }
  if (results.size() == 2) {  // the two paths agree as closely (the schema allows a fused multiply-add)
    size_t differ = 0;
    for (size_t i = 0; i < results[0].size(); ++i)
      if (std::fabs(results[0][i] - results[1][i]) > 1e-6 * magnitude[i] + 1e-30) ++differ;
    CHECK(differ == 0);
  }
}

TEST_CASE("dynamic int8 fully connected: the schema's formula on every kernel path") {
  using schema::Activation;
  const DynamicCase cases[] = {
      // odd rows, k and n; row blocks of 8 (VNNI) and 4 (portable); panels of 32 columns, a last one of 16 or 32
      {1, 21, 6, 21, true, true, Activation::NONE, Rows::kUniform},
      {3, 5, 1, 5, false, true, Activation::RELU, Rows::kUniform},
      {9, 67, 33, 67, true, false, Activation::NONE, Rows::kUniform},
      {17, 130, 50, 130, false, true, Activation::SIGMOID, Rows::kUniform},
      {13, 114, 100, 151, true, true, Activation::NONE, Rows::kUniform},  // strided window of wider rows
      {11, 45, 70, 45, true, true, Activation::RELU, Rows::kOutliers},   // one huge value per even row
      {25, 33, 17, 40, true, true, Activation::NONE, Rows::kSpecial},    // zero, constant, one-sided, tiny rows
      {10, 256, 128, 256, true, true, Activation::RELU, Rows::kSpecial},
      // VNNI input rows 64 floats at a time, then a masked rest: k 63 (one masked block padded to 64),
      // 200 (3 blocks and 8), 129 (2 blocks and 1); rows 2, 6, 12: remainders of the row block
      {6, 63, 96, 63, true, true, Activation::NONE, Rows::kUniform},
      {12, 200, 48, 203, false, true, Activation::RELU, Rows::kOutliers},
      {2, 129, 16, 129, true, false, Activation::NONE, Rows::kSpecial},
  };
  uint32_t seed = 300;
  for (const DynamicCase& t : cases) check_dynamic_case(t, seed++);
}

TEST_CASE("dynamic int8 fully connected: a row of zeros gives the bias, a constant row the exact product") {
  // Independent of the reference: zeros quantise to z = 0 exactly; a constant row c > 0 has
  // s = c / 255, xq = 255, so y = 255 * s * s_w * sum(w) + b.
  const int8_t w[6] = {1, 2, 3, -4, -5, -6};
  const float scale = 0.5f, bias[2] = {0.25f, -0.75f};
  const float x[6] = {0, 0, 0, 2.55f, 2.55f, 2.55f};
  std::vector<bool> paths{false};
  if (Int8GemmVnni::available()) paths.push_back(true);
  for (bool vnni : paths) {
    QuantizedFullyConnected fc;
    REQUIRE(fc.create_dynamic(3, 3, 2, w, &scale, false, bias, schema::Activation::NONE, 0.01f, 2, vnni).is_ok());
    std::vector<int8_t> scratch(fc.scratch_bytes());
    float y[4];
    REQUIRE(fc.run(x, 2, y, scratch.data(), {}).is_ok());
    CHECK(y[0] == 0.25f);
    CHECK(y[1] == -0.75f);
    CHECK(y[2] == doctest::Approx(2.55 * 0.5 * 6 + 0.25).epsilon(1e-6));
    CHECK(y[3] == doctest::Approx(2.55 * 0.5 * -15 - 0.75).epsilon(1e-6));
  }
}

}  // namespace
}  // namespace edgemtl
