// The kernels of issue 11 (unary.h, the other reductions, layer_norm.h) against
// naive loops written here, in double where it matters.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "runtime/kernels/layer_norm.h"
#include "runtime/kernels/reduce.h"
#include "runtime/kernels/unary.h"

namespace edgemtl {
namespace {

using schema::UnaryFunction;

std::vector<float> floats(size_t count, unsigned seed, float low, float high) {
  std::mt19937 random(seed);
  std::uniform_real_distribution<float> dist(low, high);
  std::vector<float> values(count);
  for (float& v : values) v = dist(random);
  values.reserve(count + 16);  // XNNPACK may read past the end
  return values;
}

Shape shape_of(std::initializer_list<int64_t> dims) {
  Shape shape;
  for (int64_t d : dims) shape[shape.rank++] = d;
  return shape;
}

TensorView view(void* data, schema::DType dtype, const Shape& shape) {
  TensorView v;
  v.data = data;
  v.dtype = dtype;
  v.shape = shape;
  return v;
}

// The ONNX / torch definitions, in double.
double reference(UnaryFunction f, double x, double exponent) {
  switch (f) {
    case UnaryFunction::LOG: return std::log(x);
    case UnaryFunction::EXP: return std::exp(x);
    case UnaryFunction::SQRT: return std::sqrt(x);
    case UnaryFunction::RECIPROCAL: return 1.0 / x;
    case UnaryFunction::ABS: return x < 0 ? -x : x;
    case UnaryFunction::NEG: return -x;
    case UnaryFunction::POW: return std::pow(x, exponent);
    case UnaryFunction::ERF: return std::erf(x);
    case UnaryFunction::SOFTPLUS: return std::log(1.0 + std::exp(x));
    case UnaryFunction::FLOOR: return std::floor(x);
    case UnaryFunction::CEIL: return std::ceil(x);
    case UnaryFunction::GELU: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case UnaryFunction::GELU_TANH:
      return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
  }
  return 0;
}

TEST_CASE("UNARY: every function, plain loop and XNNPACK, against the definition in double") {
  for (UnaryFunction f : schema::EnumValuesUnaryFunction()) {
    const std::string name = schema::EnumNameUnaryFunction(f);
    CAPTURE(name);
    const bool positive = f == UnaryFunction::LOG || f == UnaryFunction::SQRT || f == UnaryFunction::POW;
    std::vector<float> x = floats(37, 7, positive ? 0.01f : -10.0f, positive ? 9.0f : 10.0f);
    if (!positive) x[0] = 0.0f, x[1] = -2.5f, x[2] = 2.5f;
    const float exponent = 2.5f;
    std::vector<float> loop(x.size()), kernel(x.size() + 16);
    unary_f32(f, exponent, x.data(), loop.data(), x.size());
    Unary unary;
    REQUIRE(unary.create(f, exponent).is_ok());
    const bool xnn = f == UnaryFunction::ABS || f == UnaryFunction::NEG || f == UnaryFunction::FLOOR ||
                     f == UnaryFunction::CEIL || f == UnaryFunction::SQRT;
    CHECK(unary.uses_xnnpack() == xnn);
    const Shape shape = shape_of({37});
    REQUIRE(unary.run(view(x.data(), schema::DType::FLOAT32, shape), view(kernel.data(), schema::DType::FLOAT32, shape),
                      nullptr)
                .is_ok());
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = reference(f, x[i], exponent);
      if (std::isinf(want)) CHECK(loop[i] == static_cast<float>(want));  // 1 / 0
      else CHECK(loop[i] == doctest::Approx(want).epsilon(1e-6));
      CHECK(kernel[i] == loop[i]);
    }
  }
  float big = 100.0f, out = 0;  // softplus does not overflow
  unary_f32(UnaryFunction::SOFTPLUS, 1, &big, &out, 1);
  CHECK(out == 100.0f);
  float square = -3.0f;
  unary_f32(UnaryFunction::POW, 2, &square, &out, 1);
  CHECK(out == 9.0f);
}

TEST_CASE("IS_NAN, IS_INF, COMPARE, LOGICAL with broadcasting") {
  const float inf = std::numeric_limits<float>::infinity();
  float x[4] = {1.0f, std::nanf(""), inf, -inf};
  uint8_t out[6];
  is_nan(view(x, schema::DType::FLOAT32, shape_of({4})), view(out, schema::DType::BOOL, shape_of({4})));
  CHECK((out[0] == 0 && out[1] == 1 && out[2] == 0 && out[3] == 0));
  is_inf(view(x, schema::DType::FLOAT32, shape_of({4})), true, false, view(out, schema::DType::BOOL, shape_of({4})));
  CHECK((out[0] == 0 && out[1] == 0 && out[2] == 1 && out[3] == 0));
  is_inf(view(x, schema::DType::FLOAT32, shape_of({4})), true, true, view(out, schema::DType::BOOL, shape_of({4})));
  CHECK((out[2] == 1 && out[3] == 1));

  // a [2, 3] against b [3] (broadcast over rows)
  float a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {2, 5, std::nanf("")};
  const bool want[4][6] = {{false, false, false, true, false, false},
                           {true, true, false, false, false, false},
                           {false, false, false, true, true, false},
                           {true, true, false, false, true, false}};
  int k = 0;
  for (schema::ComparePredicate p : schema::EnumValuesComparePredicate()) {
    compare(p, view(a, schema::DType::FLOAT32, shape_of({2, 3})), view(b, schema::DType::FLOAT32, shape_of({3})),
            view(out, schema::DType::BOOL, shape_of({2, 3})));
    for (int i = 0; i < 6; ++i) CHECK(static_cast<bool>(out[i]) == want[k][i]);
    ++k;
  }
  int64_t ia[2] = {3, 7}, ib[1] = {5};
  compare(schema::ComparePredicate::GREATER, view(ia, schema::DType::INT64, shape_of({2})),
          view(ib, schema::DType::INT64, shape_of({1})), view(out, schema::DType::BOOL, shape_of({2})));
  CHECK((out[0] == 0 && out[1] == 1));

  uint8_t p[4] = {0, 0, 1, 1}, q[4] = {0, 1, 0, 1};
  const uint8_t truth[3][4] = {{0, 0, 0, 1}, {0, 1, 1, 1}, {0, 1, 1, 0}};
  k = 0;
  for (schema::LogicalFunction f : schema::EnumValuesLogicalFunction()) {
    logical(f, view(p, schema::DType::BOOL, shape_of({4})), view(q, schema::DType::BOOL, shape_of({4})),
            view(out, schema::DType::BOOL, shape_of({4})));
    for (int i = 0; i < 4; ++i) CHECK(out[i] == truth[k][i]);
    ++k;
  }
}

TEST_CASE("REDUCE_MAX / MIN / PROD / L2 over one axis, two apart axes, and NaN") {
  std::vector<float> x = floats(2 * 3 * 4, 3, -2.0f, 2.0f);
  bool middle[kMaxRank] = {false, true, false};
  bool outer_inner[kMaxRank] = {false, true, true};
  for (bool* reduced : {middle, outer_inner}) {
    for (ReduceKind kind : {ReduceKind::kMax, ReduceKind::kMin, ReduceKind::kProd, ReduceKind::kL2}) {
      const bool all = reduced[2];
      std::vector<float> out(all ? 2 : 8);
      reduce_f32(view(x.data(), schema::DType::FLOAT32, shape_of({2, 3, 4})), reduced, kind,
                 view(out.data(), schema::DType::FLOAT32, all ? shape_of({2}) : shape_of({2, 4})));
      for (int n = 0; n < 2; ++n) {
        for (int c = 0; c < (all ? 1 : 4); ++c) {
          double acc = kind == ReduceKind::kMax ? -1e30 : kind == ReduceKind::kMin ? 1e30 : kind == ReduceKind::kProd ? 1 : 0;
          for (int r = 0; r < 3; ++r)
            for (int j = 0; j < 4; ++j) {
              if (!all && j != c) continue;
              const double v = x[static_cast<size_t>(n * 12 + r * 4 + j)];
              if (kind == ReduceKind::kMax) acc = std::max(acc, v);
              else if (kind == ReduceKind::kMin) acc = std::min(acc, v);
              else if (kind == ReduceKind::kProd) acc *= v;
              else acc += v * v;
            }
          if (kind == ReduceKind::kL2) acc = std::sqrt(acc);
          CHECK(out[static_cast<size_t>(all ? n : n * 4 + c)] == doctest::Approx(acc).epsilon(1e-5));
        }
      }
    }
  }
  float with_nan[3] = {1.0f, std::nanf(""), 3.0f}, result = 0;
  bool last[kMaxRank] = {false, true};
  reduce_f32(view(with_nan, schema::DType::FLOAT32, shape_of({1, 3})), last, ReduceKind::kMax,
             view(&result, schema::DType::FLOAT32, shape_of({1})));
  CHECK(std::isnan(result));
}

TEST_CASE("LAYER_NORM against two passes in double, with and without bias, in place") {
  const int64_t outer = 5, inner = 7;
  std::vector<float> x = floats(outer * inner, 11, -3.0f, 5.0f), scale = floats(inner, 12, 0.5f, 2.0f),
                     bias = floats(inner, 13, -1.0f, 1.0f);
  for (bool with_bias : {true, false}) {
    std::vector<float> y(x.size());
    layer_norm_f32(x.data(), outer, inner, scale.data(), with_bias ? bias.data() : nullptr, 1e-5f, y.data());
    std::vector<float> in_place = x;
    layer_norm_f32(in_place.data(), outer, inner, scale.data(), with_bias ? bias.data() : nullptr, 1e-5f,
                   in_place.data());
    for (int64_t o = 0; o < outer; ++o) {
      double mean = 0, var = 0;
      for (int64_t i = 0; i < inner; ++i) mean += x[static_cast<size_t>(o * inner + i)];
      mean /= inner;
      for (int64_t i = 0; i < inner; ++i) var += std::pow(x[static_cast<size_t>(o * inner + i)] - mean, 2);
      var /= inner;
      for (int64_t i = 0; i < inner; ++i) {
        const size_t k = static_cast<size_t>(o * inner + i);
        const double want = (x[k] - mean) / std::sqrt(var + 1e-5) * scale[static_cast<size_t>(i)] +
                            (with_bias ? bias[static_cast<size_t>(i)] : 0.0);
        CHECK(y[k] == doctest::Approx(want).epsilon(1e-5));
        CHECK(in_place[k] == y[k]);
      }
    }
  }
}

}  // namespace
}  // namespace edgemtl
